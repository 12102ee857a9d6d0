"""Small real documents made in the test (no binaries in the repository): PDFs with pypdf, workbooks with openpyxl."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path


def pdf(pages: int = 1, text: str = "", password: str | None = None) -> bytes:
    """A valid PDF of `pages` blank pages; `text` goes into its metadata so that different texts give different bytes."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": text or f"{pages} page(s)"})
    if password is not None:
        # RC4 needs no optional cipher library; an empty user password opens without asking.
        writer.encrypt(user_password=password, owner_password="owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def xlsx(*sheets: str) -> bytes:
    """A workbook with the given sheet names (in order), each with one cell."""
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    first.title = sheets[0] if sheets else "Sheet"
    for name in sheets[1:]:
        book.create_sheet(name)
    for ws in book.worksheets:
        ws["A1"] = ws.title
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    """A zip archive holding `members`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    """`data` written to folder/name; returns the path."""
    path = folder / name
    path.write_bytes(data)
    return path
