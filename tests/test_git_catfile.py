"""BlobStream: many objects through one cat-file, against what git holds, whatever their size."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gitcfg.errors import CorruptStoreError
from gitcfg.git import GitRepo
from gitcfg.git.catfile import BlobStream


def test_bodies_come_back_in_request_order_whatever_their_size(repo: Path) -> None:
    r = GitRepo.discover(repo)
    bodies = [b"", b"\n", b"x" * 5, os.urandom(3 << 20), b"lr: 0.1\n" * 1000, b"\0\n\0"]
    bodies += [f"run {i}\n".encode() * (i % 7) for i in range(3000)]
    shas = [r.write_blob(body) for body in bodies]
    # a small unread limit: git waits on the reader thread again and again; requests come
    # from another thread, as in a listing (git stops reading them while its output waits)
    with BlobStream(r, limit=1 << 16) as stream:
        stream.request(shas[:10])
        got = stream.take(4)
        asking = threading.Thread(target=stream.request, args=(shas[10:],))
        asking.start()
        got += stream.take(len(shas) - 4)
        asking.join()
    assert got == bodies


def test_taking_waits_for_the_objects_to_be_asked_for(repo: Path) -> None:
    # a listing hands a chunk to the converting thread before it asks git for its files (so
    # git's full pipe never waits on a chunk nobody takes): the converter may come first
    r = GitRepo.discover(repo)
    shas = [r.write_blob(f"i: {i}\n".encode()) for i in range(3)]
    with BlobStream(r) as stream:
        late = threading.Timer(0.3, stream.request, args=(shas,))
        late.start()
        assert stream.take(3) == [b"i: 0\n", b"i: 1\n", b"i: 2\n"]
        late.join()


def test_a_taker_waiting_for_an_asker_that_failed_gets_its_error(repo: Path) -> None:
    r = GitRepo.discover(repo)
    with BlobStream(r) as stream:
        failing = threading.Timer(0.2, stream.fail, args=(RuntimeError("the lister failed"),))
        failing.start()
        with pytest.raises(RuntimeError, match="the lister failed"):
            stream.take(1)
        failing.join()


def test_a_missing_object_is_an_error_and_nothing_hangs(repo: Path) -> None:
    r = GitRepo.discover(repo)
    good = r.write_blob(b"a: 1\n")
    before = threading.active_count()
    with BlobStream(r) as stream:
        stream.request([good, "0" * 40, good])
        assert stream.take(1) == [b"a: 1\n"]
        with pytest.raises(CorruptStoreError, match=r"0{40} is missing"):
            stream.take(1)
    assert threading.active_count() == before


def test_closing_before_everything_is_read_stops_git(repo: Path) -> None:
    r = GitRepo.discover(repo)
    sha = r.write_blob(os.urandom(1 << 20))
    stream = BlobStream(r, limit=1 << 16)
    stream.request([sha] * 64)  # 64 MB asked, a few read
    assert len(stream.take(2)[1]) == 1 << 20
    stream.close()
    stream.close()  # twice is fine
    assert stream._proc.returncode is not None
