"""`jcbot document list|get`, and reading the files that `proposal draft/attach/revise` are given."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from jcbot.cli.common import context, fail, refusals, table
from jcbot.services import documents
from jcbot.services.documents import VISIBILITIES, Attached, DocumentUnavailable, Upload
from jcbot.services.filetypes import check_name, check_size, mebibytes

app = typer.Typer(help="The document store: list what is stored, get a file back (verified).", no_args_is_help=True)

DOCUMENT_HELP = ("A file the proposal is about, PATH[:public|:confidential] (default public), repeatable. "
                 "Stored once by its SHA-256.")
ITEM_DOCUMENT_HELP = "ITEM:NAME: item number ITEM (1, 2...) approves the --document file NAME; repeatable."


def parse_spec(spec: str) -> tuple[Path, str]:
    """PATH[:public|:confidential] -> (path, visibility)."""
    for visibility in VISIBILITIES:
        if spec.endswith(":" + visibility):
            return Path(spec[: -len(visibility) - 1]), visibility
    return Path(spec), "public"


def parse_item_documents(specs: list[str] | None) -> dict[str, tuple[int, ...]]:
    """ITEM:NAME pairs -> {file name: item numbers}."""
    out: dict[str, tuple[int, ...]] = {}
    for spec in specs or []:
        number, _, name = spec.partition(":")
        if not number.strip().isdigit() or not name.strip():
            fail(f"--item-document {spec!r}: expected ITEM:NAME, e.g. 1:MN_PM012.pdf (the item's number, "
                 "then the name of a --document file)")
        out[name.strip()] = (*out.get(name.strip(), ()), int(number))
    return out


def read_uploads(specs: list[str] | None, items: dict[str, tuple[int, ...]] | None = None,
                 all_items: tuple[int, ...] = ()) -> list[Upload]:
    """The files named by `specs`, read (each checked against the size limit before it is read)."""
    limit = documents.max_bytes(context().settings)
    uploads, items = [], dict(items or {})
    for spec in specs or []:
        path, visibility = parse_spec(spec)
        with refusals():
            name = check_name(path.name)
        try:
            size = path.stat().st_size
            if not path.is_file():
                fail(f"{spec}: not a file")
            with refusals():
                check_size(name, size, limit)  # before reading: a huge file is never loaded
            data = path.read_bytes()
        except OSError as exc:
            fail(f"{spec}: {exc.strerror or exc}")
        uploads.append(Upload(name, data, visibility, tuple(sorted({*all_items, *items.pop(name, ())}))))
    if items:
        fail(f"--item-document names {', '.join(sorted(items))}, which no --document gives")
    return uploads


def describe(a: Attached) -> str:
    """One line for a document in `proposal show`."""
    facts = [a.visibility, mebibytes(a.size), a.media_type]
    if a.pages is not None:
        facts.append(f"{a.pages} page{'s' if a.pages != 1 else ''}")
    if a.sheets is not None:
        facts.append("sheets: " + ", ".join(a.sheets))
    if a.items:
        facts.append("item " + ", ".join(str(n) for n in a.items))
    return f"{a.name}  ({'; '.join(facts)})\n              sha256 {a.sha256}"


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every stored document: SHA-256, name, size, type, visibility, the proposal versions carrying it."""
    with refusals():
        found = documents.listing(context())
    if as_json:
        typer.echo(json.dumps([{"sha256": d.sha256, "name": d.name, "size": d.size, "media_type": d.media_type,
                                "visibility": d.visibility, "pages": d.pages, "sheets": d.sheets,
                                "stored_in": d.stored_in, "added_at": d.added_at.isoformat(), "added_by": d.added_by,
                                "carried_by": refs} for d, refs in found], indent=2, ensure_ascii=False))
        return
    if not found:
        typer.echo("no documents")
        return
    typer.echo(table([[d.sha256[:16], d.name, mebibytes(d.size), d.visibility, ", ".join(refs) or None]
                      for d, refs in found], ["sha256", "name", "size", "visibility", "carried by"]))


@app.command("get")
def get(sha256: str, out: Path = typer.Option(..., "--out", help="File to write (must not exist).")) -> None:
    """Write a stored document to a file, after checking its bytes against its SHA-256 (exit 1 if altered)."""
    if out.exists():
        fail(f"{out} exists; choose another --out")
    with refusals():
        try:
            doc, data = documents.read(context(), sha256)
        except DocumentUnavailable as exc:
            fail(str(exc), 1)
    try:
        out.write_bytes(data)
    except OSError as exc:
        fail(f"{out}: {exc.strerror or exc}")
    typer.echo(f"wrote {doc.name} ({mebibytes(doc.size)}, sha256 {doc.sha256}) to {out}")
