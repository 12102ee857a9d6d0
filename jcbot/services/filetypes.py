"""What a file is, before it is stored: its media type, refused kinds, and the facts members are shown.

Pure functions of a name and bytes (no database, no files). The media type comes from
the content (magic bytes, a zip's members) checked against what the name claims: a
`.pdf` that is not a PDF is refused rather than stored under a false type. Executables
and scripts are refused by their name and by their content, so renaming does not get
one in. A PDF's page count and a workbook's sheet names are read with pypdf and
openpyxl; a file that claims one of those types but cannot be read is refused.
"""
from __future__ import annotations

import io
import logging
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from jcbot.services.context import ServiceError

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODT = "application/vnd.oasis.opendocument.text"
ODP = "application/vnd.oasis.opendocument.presentation"
ZIP = "application/zip"
OCTETS = "application/octet-stream"

# What the name claims -> what the content must then be.
CLAIMED = {
    ".pdf": PDF, ".xlsx": XLSX, ".docx": DOCX, ".pptx": PPTX, ".ods": ODS, ".odt": ODT, ".odp": ODP,
    ".zip": ZIP, ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
}
# Binary formats without a zip inside: recognised by the name once the content is an OLE file.
OLE_BY_NAME = {".xls": "application/vnd.ms-excel", ".doc": "application/msword",
               ".ppt": "application/vnd.ms-powerpoint"}
TEXT_BY_NAME = {".csv": "text/csv", ".txt": "text/plain", ".md": "text/markdown", ".json": "application/json",
                ".xml": "application/xml"}

# Programs, scripts and what a browser or an Office application would run: refused by name.
REFUSED_NAMES = frozenset("""
    .exe .com .bat .cmd .msi .msp .msix .appx .dll .sys .drv .ocx .cpl .scr .pif .lnk .reg .inf .hta .gadget
    .ps1 .psm1 .psd1 .vb .vbs .vbe .js .jse .mjs .cjs .wsf .wsh .ws .sct .jar .class .apk .app .dmg .pkg .deb .rpm
    .sh .bash .zsh .csh .ksh .command .run .bin .elf .so .dylib .py .pyc .pyz .pl .rb .php .lua .iso .img
    .html .htm .xhtml .svg .svgz .xlsm .xltm .xlam .docm .dotm .pptm .potm .ppam .sldm
""".split())
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EXECUTABLE_MAGIC = (
    (b"MZ", "a Windows or DOS program (MZ)"),
    (b"\x7fELF", "a Linux/Unix program (ELF)"),
    (b"\xfe\xed\xfa\xce", "a macOS program (Mach-O)"), (b"\xfe\xed\xfa\xcf", "a macOS program (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "a macOS program (Mach-O)"), (b"\xcf\xfa\xed\xfe", "a macOS program (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "a macOS universal program or a Java class (CAFEBABE)"),
    (b"#!", "a script (#!)"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "a Windows shortcut (.lnk)"),
)
_SNIFF_TEXT = 8192
# pypdf logs every repair it makes to a damaged file ("EOF marker not found"); what counts
# is whether it could read the pages, which the refusal says in one line.
logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Inspected:
    """What a file was found to be: its media type and the facts shown to members."""

    media_type: str
    pages: int | None = None                # a PDF's page count
    sheets: tuple[str, ...] | None = None   # a workbook's sheet names, in order


class FileRefused(ServiceError):
    """A file jcbot will not store: too large, empty, an executable, or not what its name claims."""


def check_name(name: str) -> str:
    """The file name as stored (stripped); FileRefused if it is empty, a path or holds control characters."""
    clean = name.strip()
    if not clean or clean in (".", ".."):
        raise FileRefused("a document needs a file name")
    if "/" in clean or "\\" in clean:
        raise FileRefused(f"{name!r}: give a file name, not a path")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in clean):
        raise FileRefused(f"{name!r}: a file name must not hold control characters")
    if len(clean) > 255:
        raise FileRefused(f"{clean[:40]}...: a file name has at most 255 characters")
    return clean


def mebibytes(size: int) -> str:
    """A size for people: 25 MiB, 1.5 MiB, 812 KiB, 90 bytes."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) or value >= 100 else f"{value:.1f} {unit}"
    return f"{size} bytes"


def check_size(name: str, size: int, max_bytes: int) -> None:
    """FileRefused for an empty file or one over the limit (JCBOT_DOCUMENT_MAX_BYTES)."""
    if size == 0:
        raise FileRefused(f"{name} is empty")
    if size > max_bytes:
        raise FileRefused(f"{name} is {mebibytes(size)}; the limit is {mebibytes(max_bytes)} "
                          "(JCBOT_DOCUMENT_MAX_BYTES)")


def inspect(name: str, data: bytes, max_bytes: int) -> Inspected:
    """Check a file and read what it is; FileRefused (with what to do) if it cannot be stored."""
    name = check_name(name)
    check_size(name, len(data), max_bytes)
    suffix = PurePosixPath(name.lower()).suffix
    if suffix in REFUSED_NAMES:
        raise FileRefused(f"{name}: {suffix} files are not accepted (programs, scripts, pages or macro-enabled "
                          "documents could run on members' machines); send a PDF, a spreadsheet or a document")
    for magic, what in _EXECUTABLE_MAGIC:
        if data.startswith(magic):
            raise FileRefused(f"{name}: the content is {what}; programs and scripts are not accepted")
    media_type = _sniff(name, suffix, data)
    claimed = CLAIMED.get(suffix)
    if claimed is not None and media_type != claimed:
        raise FileRefused(f"{name}: the name says {suffix} but the content is {_kind(media_type)}; "
                          "give the file its real name, or export it again")
    if media_type == PDF:
        return Inspected(PDF, pages=_pdf_pages(name, data))
    if media_type == XLSX:
        return Inspected(XLSX, sheets=_sheet_names(name, data))
    return Inspected(media_type)


def _kind(media_type: str) -> str:
    known = {PDF: "a PDF", XLSX: "an .xlsx workbook", DOCX: "a .docx document", PPTX: "a .pptx presentation",
             ZIP: "a zip archive", OCTETS: "unrecognised binary data"}
    return known.get(media_type, f"of type {media_type}")


def _sniff(name: str, suffix: str, data: bytes) -> str:
    # PDF readers accept the header anywhere in the first KiB (some producers put junk first).
    if b"%PDF-" in data[:1024]:
        return PDF
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_type(name, data)
    if data.startswith(_OLE):
        return OLE_BY_NAME.get(suffix, "application/x-ole-storage")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    head = data[:_SNIFF_TEXT]
    if b"\x00" not in head and _utf8_prefix(head):
        return TEXT_BY_NAME.get(suffix, "text/plain")
    return OCTETS


def _utf8_prefix(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Cut in the middle of a character at the end of the sample: still text.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def _zip_type(name: str, data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            mimetype = z.read("mimetype")[:100].decode("ascii", "replace").strip() if "mimetype" in names else ""
    except (zipfile.BadZipFile, KeyError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise FileRefused(f"{name}: a damaged zip archive ({exc}); export or compress it again") from None
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise FileRefused(f"{name}: the document holds macros (vbaProject.bin); save it without macros "
                          "(e.g. as .xlsx or .docx)")
    if "META-INF/MANIFEST.MF" in names and any(n.endswith(".class") for n in names):
        raise FileRefused(f"{name}: the content is a Java program (.jar); programs are not accepted")
    if "[Content_Types].xml" in names:
        for member, media_type in (("xl/workbook.xml", XLSX), ("word/document.xml", DOCX),
                                   ("ppt/presentation.xml", PPTX)):
            if member in names:
                return media_type
    if mimetype in (ODS, ODT, ODP):
        return mimetype
    return ZIP


def _pdf_pages(name: str, data: bytes) -> int | None:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileRefused(f"{name}: the PDF is protected by a password members would need; "
                              "send it without the password")
        pages = len(reader.pages)
    except FileRefused:
        raise
    except DependencyError:
        return None  # encrypted with a cipher this installation cannot read: stored, page count unknown
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds for a damaged file
        raise FileRefused(f"{name}: not a readable PDF ({type(exc).__name__}: {exc}); export it again") from None
    if pages == 0:
        raise FileRefused(f"{name}: the PDF has no pages")
    return pages


def _sheet_names(name: str, data: bytes) -> tuple[str, ...]:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about extensions it skips; the names are enough
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                return tuple(book.sheetnames)
            finally:
                book.close()
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise FileRefused(f"{name}: not a readable workbook ({type(exc).__name__}: {exc}); save it again") from None
