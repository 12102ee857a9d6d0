"""jcbot.store.blobs.FileBlobs: content-addressed, written atomically, re-hashed on every read."""
from __future__ import annotations

import os
import stat

import pytest

from jcbot.store import blobs
from jcbot.store.blobs import BlobCorrupt, BlobMissing, FileBlobs, sha256_hex

DATA = b"%PDF-1.7 the methodology, as distributed"
SHA = sha256_hex(DATA)


@pytest.fixture
def store(tmp_path) -> FileBlobs:
    return FileBlobs(tmp_path / "documents")


def test_content_lives_at_its_hash_and_reads_back(store, tmp_path):
    assert store.put(None, SHA, DATA) is True
    path = tmp_path / "documents" / SHA[:2] / SHA[2:4] / SHA
    assert store.path(SHA) == path and path.read_bytes() == DATA
    assert store.read(None, SHA) == DATA
    assert store.check(None, SHA) is None
    assert not os.access(path, os.W_OK) or os.geteuid() == 0  # read-only (root may write anyway)
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222
    assert store.put(None, SHA, DATA) is False  # already there and intact: nothing written
    assert [p.name for p in path.parent.iterdir()] == [SHA]  # no temporary file left behind


def test_the_write_is_synced_then_renamed_then_the_folders_synced(store, monkeypatch):
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        real_fsync(fd)

    def replace(src, dst):
        calls.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store.put(None, SHA, DATA)
    # The file's bytes reach the disk before the rename; then the folder holding the new
    # name and each folder that got a new sub-folder (ab/, cd/, documents/ itself).
    assert calls[:2] == ["fsync-file", "rename"]
    assert calls[2:] and set(calls[2:]) == {"fsync-dir"}
    assert len(calls[2:]) == 4


def test_a_write_that_fails_leaves_nothing_at_the_path_and_no_temporary_file(store, monkeypatch):
    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="No space left"):
        store.put(None, SHA, DATA)
    assert not store.path(SHA).exists()
    assert list(store.path(SHA).parent.iterdir()) == []


def test_content_that_does_not_hash_to_the_name_is_not_stored(store):
    with pytest.raises(ValueError, match="does not hash to"):
        store.put(None, SHA, DATA + b"!")
    assert not store.path(SHA).exists()


@pytest.mark.parametrize("bad", ["../../etc/passwd", SHA.upper(), SHA[:63], SHA + "0", ""])
def test_only_a_sha256_names_a_path(store, bad):
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.path(bad)


def test_a_tampered_file_is_never_served(store):
    store.put(None, SHA, DATA)
    path = store.path(SHA)
    os.chmod(path, 0o644)
    path.write_bytes(DATA.replace(b"methodology", b"methodolOgy"))
    with pytest.raises(BlobCorrupt, match="does not match its SHA-256"):
        store.read(None, SHA)
    assert store.check(None, SHA).startswith(f"altered: the file at {path} hashes to ")


def test_a_missing_file_is_named(store):
    with pytest.raises(BlobMissing, match="no file at"):
        store.read(None, SHA)
    assert store.check(None, SHA) == f"missing: no file at {store.path(SHA)}"


def test_the_same_bytes_brought_again_repair_damaged_content(store):
    store.put(None, SHA, DATA)
    path = store.path(SHA)
    os.chmod(path, 0o644)
    path.write_bytes(b"garbage")
    assert store.put(None, SHA, DATA) is True
    assert store.read(None, SHA) == DATA


def test_blob_store_chooses_by_kind(tmp_path):
    assert isinstance(blobs.blob_store("files", tmp_path), FileBlobs)
    assert blobs.blob_store("files", tmp_path).root == tmp_path / "documents"
    assert isinstance(blobs.blob_store("database", tmp_path), blobs.DatabaseBlobs)
    with pytest.raises(ValueError, match="unknown document store"):
        blobs.blob_store("s3", tmp_path)
