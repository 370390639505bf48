"""Files that several processes share: an exclusive lock, and writes a reader never sees half of.

``locked(path)`` holds an ``flock`` on a lock file for the duration of a ``with`` block, so
schedulers, report runs and alert pushes in parallel processes take turns. ``atomic_write``
writes to a temporary file in the target's folder, flushes it to disk and renames it over the
target, so a reader sees the old content or the new, never a torn file. ``atomic_symlink`` does
the same for a symbolic link.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with locked(folder / "state.lock"):
...     atomic_write(folder / "state.json", '{"ok": true}\\n').read_text()
'{"ok": true}\\n'
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_symlink", "atomic_write", "locked"]

PathLike = str | os.PathLike[str]
Writer = Callable[[IO[bytes]], object]


@contextlib.contextmanager
def locked(path: PathLike, *, blocking: bool = True) -> Iterator[Path]:
    """Hold an exclusive lock on the file ``path`` (created, with its folder, if missing).

    With ``blocking=False`` a lock held elsewhere raises ``BlockingIOError`` at once instead of
    waiting. The lock is released when the block ends, and by the kernel if the process dies.
    Where ``fcntl`` does not exist (Windows) there is no lock: one writer is assumed.

    >>> import pathlib, tempfile
    >>> lock = pathlib.Path(tempfile.mkdtemp()) / "x.lock"
    >>> with locked(lock):
    ...     with locked(lock, blocking=False):
    ...         pass
    Traceback (most recent call last):
    BlockingIOError: ...
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on Unix
            yield target
            return
        fcntl.flock(handle, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield target
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")


def atomic_write(path: PathLike, data: bytes | str | Writer, *, mode: int | None = None,
                 encoding: str = "utf-8") -> Path:
    """Replace the file ``path`` with ``data`` in one step; return the path.

    ``data`` is bytes, text (encoded with ``encoding``) or a callable that writes to the binary
    file object it is given (e.g. ``lambda f: frame.to_parquet(f)``). The new file gets
    permissions ``mode`` when given, else ``0o666`` minus the umask, as ``open()`` would give it.
    The folder is created if missing. If writing fails the target is left as it was and no
    temporary file remains.

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a" / "b.txt"
    >>> atomic_write(p, b"one").read_bytes(), oct(atomic_write(p, "two", mode=0o600).stat().st_mode)
    (b'one', '0o100600')
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(target)
    # Created like open() would (0o666 less the umask), not 0600 as mkstemp would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            elif isinstance(data, str):
                handle.write(data.encode(encoding))
            else:
                data(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def atomic_symlink(link: PathLike, target: PathLike) -> Path:
    """Point the symbolic link ``link`` at ``target`` (a path relative to the link's folder, or
    absolute), replacing any link already there in one step; return the link.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_symlink(folder / "latest", "run-2").readlink()
    PosixPath('run-2')
    """
    path = Path(link)
    tmp = _temporary(path)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
