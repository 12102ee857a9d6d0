"""Documents from the CLI: draft/attach/detach/show --json, assertions bound to hashes, audit verify on tampering.

On SQLite and PostgreSQL (the `jcbot` fixture), content in files and in the database.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from support import documents as make

MEMBERS = [("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("dorj", "host")]
DOC_TABLES = ("document", "document_content", "proposal_document")
PUBLIC, CONFIDENTIAL, CALC = make.pdf(3, "MN_PM012 public"), make.pdf(4, "MN_PM012 complete"), make.xlsx("Summary", "Data")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def files(tmp_path) -> Path:
    folder = tmp_path / "papers"
    folder.mkdir()
    for name, data in (("MN_PM012.pdf", PUBLIC), ("MN_PM012-full.pdf", CONFIDENTIAL), ("MN015-calc.xlsx", CALC),
                       ("MN_PM012-rev1.pdf", make.pdf(5, "rev1")), ("setup.exe", b"MZ\x90\x00" + b"\x00" * 60),
                       ("report.pdf", b"MZ\x90\x00" + b"\x00" * 60)):
        make.write(folder, name, data)
    return folder


def _committee(jcbot) -> None:
    jcbot("committee", "create", "japan-mongolia", "--rules", "japan-mongolia")
    for handle, gov in MEMBERS:
        jcbot("member", "add", "japan-mongolia", handle, "-g", gov, "--email", f"{handle}@jc.example")
    jcbot("cochair", "elect", "japan-mongolia", "japan", "tanaka")
    jcbot("cochair", "elect", "japan-mongolia", "host", "bat")


def _draft(jcbot, files: Path) -> str:
    out = jcbot("proposal", "draft", "japan-mongolia", "--title", "Approval of MN_PM012 and registration of MN015",
                "--text", "The JC approves the methodology and registers the project.",
                "--item", "methodology_approval:Energy saving by high-efficiency boilers",
                "--item", "project_registration:Solar power plant in Darkhan",
                "--document", str(files / "MN_PM012.pdf"),
                "--document", f"{files / 'MN_PM012-full.pdf'}:confidential",
                "--item-document", "1:MN_PM012.pdf", "--item-document", "1:MN_PM012-full.pdf").stdout
    ref = re.fullmatch(r"drafted (MN-P-\d{4}-001) with 2 document\(s\)\n", out).group(1)
    return ref


def _doc_counts(jcbot) -> dict[str, int]:
    return {t: jcbot.sql(f"SELECT COUNT(*) FROM {t}")[0][0] for t in DOC_TABLES}


@pytest.mark.parametrize("store", ["files", "database"])
def test_draft_attach_show_assert_and_verify(jcbot, files, monkeypatch, store):
    monkeypatch.setenv("JCBOT_DOCUMENT_STORE", store)
    _committee(jcbot)
    ref = _draft(jcbot, files)
    out = jcbot("proposal", "attach", ref, str(files / "MN015-calc.xlsx"), "--item", "2").stdout
    assert out == f"attached MN015-calc.xlsx (public, sha256 {sha(CALC)})\n"
    assert jcbot("proposal", "attach", ref, str(files / "MN015-calc.xlsx"), "--item", "2").stdout == (
        f"{ref} already carries these documents\n")

    shown = json.loads(jcbot("proposal", "show", ref, "--json").stdout)
    assert shown["status"] == "draft"
    assert [i["kind"] for i in shown["items"]] == ["methodology_approval", "project_registration"]
    assert shown["documents"] == [
        {"name": "MN_PM012.pdf", "sha256": sha(PUBLIC), "size": len(PUBLIC), "media_type": "application/pdf",
         "visibility": "public", "pages": 3, "sheets": None, "items": [1]},
        {"name": "MN_PM012-full.pdf", "sha256": sha(CONFIDENTIAL), "size": len(CONFIDENTIAL),
         "media_type": "application/pdf", "visibility": "confidential", "pages": 4, "sheets": None, "items": [1]},
        {"name": "MN015-calc.xlsx", "sha256": sha(CALC), "size": len(CALC),
         "media_type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "visibility": "public", "pages": None, "sheets": ["Summary", "Data"], "items": [2]}]
    human = jcbot("proposal", "show", ref).stdout
    assert "  document    MN_PM012-full.pdf  (confidential; 8" in human and "4 pages; item 1)" in human
    assert f"              sha256 {sha(CONFIDENTIAL)}\n" in human
    assert "sheets: Summary, Data; item 2)" in human

    jcbot("proposal", "attach", ref, str(files / "MN_PM012-rev1.pdf"))
    assert jcbot("proposal", "detach", ref, "MN_PM012-rev1.pdf").stdout == f"detached MN_PM012-rev1.pdf from {ref}\n"

    jcbot("proposal", "distribute", ref)
    jcbot.refused("proposal", "attach", ref, str(files / "MN_PM012-rev1.pdf"),
                  match=rf"^error: {ref} version 1 was distributed at .* UTC; its documents are frozen: revise it "
                        rf"to distribute other documents \(jcbot proposal revise {ref} --document PATH \.\.\.\)$")
    jcbot.refused("proposal", "detach", ref, "MN015-calc.xlsx", match="its documents are frozen: revise it")

    jcbot("assert", ref, "dorj", "affirmative", "--note", "letter of 3 March")
    v1 = sorted(sha(d) for d in (PUBLIC, CONFIDENTIAL, CALC))
    (a,) = json.loads(jcbot("proposal", "show", ref, "--json").stdout)["assertions"]
    assert (a["member"], a["documents"]) == ("dorj", v1)
    assert json.loads(jcbot.sql("SELECT documents FROM assertion")[0][0]) == v1
    event = jcbot.sql("SELECT data FROM audit_event WHERE action = 'assertion.recorded'")[0][0]
    assert json.loads(event)["documents"] == v1

    # A revision with other documents is a new version: only those, and the assertion stays on version 1.
    out = jcbot("proposal", "revise", ref, "--document", str(files / "MN_PM012-rev1.pdf"),
                "--item-document", "1:MN_PM012-rev1.pdf").stdout
    assert out.startswith(f"{ref} version 2 distributed")
    shown = json.loads(jcbot("proposal", "show", ref, "--json").stdout)
    assert [(d["name"], d["pages"], d["items"]) for d in shown["documents"]] == [("MN_PM012-rev1.pdf", 5, [1])]
    assert shown["assertions"] == []

    listed = json.loads(jcbot("document", "list", "--json").stdout)
    assert [(d["name"], d["stored_in"], d["carried_by"]) for d in listed] == [
        ("MN_PM012.pdf", store, [f"{ref} v1"]), ("MN_PM012-full.pdf", store, [f"{ref} v1"]),
        ("MN015-calc.xlsx", store, [f"{ref} v1"]), ("MN_PM012-rev1.pdf", store, [f"{ref} v2"])]
    out = jcbot("document", "get", sha(CONFIDENTIAL), "--out", str(jcbot.tmp / "copy.pdf")).stdout
    assert out.startswith("wrote MN_PM012-full.pdf (") and (jcbot.tmp / "copy.pdf").read_bytes() == CONFIDENTIAL

    verified = jcbot("audit", "verify").stdout
    assert re.fullmatch(r"audit chain ok: \d+ events, head [0-9a-f]{64}\n"
                        r"documents ok: 4 re-hashed, each as the audit chain recorded it\n", verified)

    # One bit of the stored confidential PDF changed: verify names it and exits 1; it is not served.
    if store == "files":
        path = jcbot.tmp / "storage" / "documents" / sha(CONFIDENTIAL)[:2] / sha(CONFIDENTIAL)[2:4] / sha(CONFIDENTIAL)
        os.chmod(path, 0o644)
        path.write_bytes(CONFIDENTIAL[:200] + bytes([CONFIDENTIAL[200] ^ 1]) + CONFIDENTIAL[201:])
    else:
        jcbot.sql("UPDATE document_content SET content = :c WHERE sha256 = :s", c=b"%PDF-forged", s=sha(CONFIDENTIAL))
    broken = jcbot("audit", "verify", ok=False)
    assert broken.exit_code == 1
    assert re.fullmatch(rf"document MN_PM012-full.pdf \({sha(CONFIDENTIAL)}\) BROKEN: altered: .* hashes to "
                        r"[0-9a-f]{64}\n", broken.stderr), broken.stderr
    got = jcbot("document", "get", sha(CONFIDENTIAL), "--out", str(jcbot.tmp / "again.pdf"), ok=False)
    assert got.exit_code == 1 and "does not match its SHA-256" in got.stderr
    assert not (jcbot.tmp / "again.pdf").exists()


def test_a_deleted_file_is_named_by_verify(jcbot, files):
    _committee(jcbot)
    _draft(jcbot, files)
    path = jcbot.tmp / "storage" / "documents" / sha(PUBLIC)[:2] / sha(PUBLIC)[2:4] / sha(PUBLIC)
    path.unlink()
    broken = jcbot("audit", "verify", ok=False)
    assert broken.exit_code == 1
    assert broken.stderr == f"document MN_PM012.pdf ({sha(PUBLIC)}) BROKEN: missing: no file at {path}\n"
    assert broken.stdout == ""


def test_bad_files_and_options_are_refused_and_change_nothing(jcbot, files, monkeypatch):
    _committee(jcbot)
    ref = _draft(jcbot, files)
    before = _doc_counts(jcbot)
    draft = ("proposal", "draft", "japan-mongolia", "--title", "T", "--text", "X", "--item", "other:Y")
    for args, match in [
        (("proposal", "attach", ref, str(files / "setup.exe")), r"setup\.exe: \.exe files are not accepted"),
        (("proposal", "attach", ref, str(files / "report.pdf")), r"report\.pdf: the content is a Windows or DOS program"),
        (("proposal", "attach", ref, str(files / "nowhere.pdf")), r"nowhere\.pdf: No such file or directory"),
        (("proposal", "attach", ref, f"{files / 'MN015-calc.xlsx'}:confidential", "--item", "3"),
         "names item 3, but the proposal has items 1 to 2"),
        (("proposal", "attach", "MN-P-2026-099", str(files / "MN015-calc.xlsx")), "no proposal 'MN-P-2026-099'"),
        (("proposal", "detach", ref, "nope.pdf"), "carries no document named 'nope.pdf'"),
        ((*draft, "--document", str(files / "MN015-calc.xlsx"), "--item-document", "one:MN015-calc.xlsx"),
         "--item-document 'one:MN015-calc.xlsx': expected ITEM:NAME"),
        ((*draft, "--document", str(files / "MN015-calc.xlsx"), "--item-document", "1:other.pdf"),
         "--item-document names other.pdf, which no --document gives"),
        ((*draft, "--document", f"{files / 'MN_PM012.pdf'}:confidential"),
         "a document is public or confidential, not both"),
    ]:
        jcbot.refused(*args, match=match)
        assert _doc_counts(jcbot) == before, args
    monkeypatch.setenv("JCBOT_DOCUMENT_MAX_BYTES", "1000")
    jcbot.refused("proposal", "attach", ref, str(files / "MN015-calc.xlsx"),
                  match=r"MN015-calc\.xlsx is 5\.\d KiB; the limit is 1000 bytes \(JCBOT_DOCUMENT_MAX_BYTES\)")
    assert _doc_counts(jcbot) == before
