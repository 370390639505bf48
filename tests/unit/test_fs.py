"""Locks and atomic writes shared by reports, the scheduler, the alert spool and the caches."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentinsight._fs import atomic_symlink, atomic_write, locked


def test_atomic_write_takes_bytes_text_and_a_writer(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.bin"
    assert atomic_write(target, b"\x00\x01") == target
    assert target.read_bytes() == b"\x00\x01"
    atomic_write(target, "é", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "é"
    atomic_write(target, lambda handle: handle.write(b"from a writer"))
    assert target.read_bytes() == b"from a writer"
    assert [p.name for p in target.parent.iterdir()] == ["file.bin"]


def test_atomic_write_gives_the_permissions_open_would(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "index.html", "<html></html>")
        assert path.stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        assert atomic_write(tmp_path / "private", "x").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
    assert atomic_write(tmp_path / "asked", "x", mode=0o640).stat().st_mode & 0o777 == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "state.json", "old")

    def broken(handle: object) -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_reader_never_sees_a_half_written_file(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "big", b"a" * 1_000_000)
    stop = threading.Event()
    seen: set[int] = set()

    def read() -> None:
        while not stop.is_set():
            seen.add(len(target.read_bytes()))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(30):
            atomic_write(target, (b"ab"[i % 2 :][:1]) * 1_000_000)
    finally:
        stop.set()
        reader.join()
    assert seen == {1_000_000}


def test_atomic_symlink_replaces_the_link(tmp_path: Path) -> None:
    (tmp_path / "run-1").mkdir()
    (tmp_path / "run-2").mkdir()
    atomic_symlink(tmp_path / "latest", "run-1")
    atomic_symlink(tmp_path / "latest", "run-2")
    assert os.readlink(tmp_path / "latest") == "run-2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "run-1", "run-2"]


def test_locked_makes_another_process_wait(tmp_path: Path) -> None:
    lock = tmp_path / "sub" / "x.lock"
    script = (
        "import time\n"
        "from agentinsight._fs import locked\n"
        "print('waiting', flush=True)\n"
        f"with locked({str(lock)!r}):\n"
        "    print(time.time(), flush=True)\n"
    )
    with locked(lock):
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                 text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
        assert child.stdout is not None and child.stdout.readline() == "waiting\n"
        time.sleep(0.3)
        released = time.time()
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0 and float(out) >= released


def test_locked_without_blocking_refuses_a_held_lock(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with locked(lock), pytest.raises(BlockingIOError), locked(lock, blocking=False):
        pass
    with locked(lock, blocking=False):  # free again once released
        pass
