"""The local stack's state file: what ``agentinsight stack up`` started, so that ``stack status``
and ``stack down`` (from any shell) can find it. Import the names from ``agentinsight.stack``.

``<stack dir>/stack.json`` holds the supervising process's PID, each server's PID, program and
URL, the scrape targets and any port that was taken. A PID is only trusted while
``/proc/<pid>/cmdline`` still names the program it was recorded for, so a recycled PID is never
signalled.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentinsight._fs import atomic_write
from agentinsight.exceptions import StackError

if TYPE_CHECKING:
    from agentinsight.stack import Stack

__all__ = ["forget_stack", "record_stack", "recorded_stack", "stack_dir", "stop_recorded_stack"]

_STATE_FILE = "stack.json"


def stack_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The stack's folder: ``path`` > ``$AGENTINSIGHT_STACK_DIR`` > ``~/.cache/agentinsight/stack``.

    >>> stack_dir("/srv/stack")
    PosixPath('/srv/stack')
    """
    from agentinsight._settings import SETTINGS_BY_NAME

    folder: Path = SETTINGS_BY_NAME["stack_dir"].resolve(path or None)
    return folder


def _alive(pid: int, marker: str) -> bool:
    """True while ``pid`` runs and (where /proc tells) its command line contains ``marker``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return not Path("/proc/self").exists()  # no /proc here: trust the PID
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
            return False  # a zombie has finished; its parent has not collected it yet
    return marker.encode() in cmdline


def record_stack(stack: Stack, folder: str | os.PathLike[str] | None = None) -> Path:
    """Write the state file for ``stack``, which this process runs; refuse when another live
    stack is recorded there (``StackError`` naming it)."""
    home = stack_dir(folder)
    current = recorded_stack(home)
    if current is not None and current["running"] and current["pid"] != os.getpid():
        raise StackError(
            f"a stack is already running (pid {current['pid']}, state in {home / _STATE_FILE}); "
            "see `agentinsight stack status`, stop it with `agentinsight stack down`")
    home.mkdir(parents=True, exist_ok=True)
    servers = [{"name": s.name, "pid": s.pid, "program": s.program,
                "url": s.url}  # type: ignore[attr-defined]
               for s in stack._servers()]
    state = {
        "pid": os.getpid(),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "urls": stack.urls(),
        "servers": servers,
        "scrape_targets": list(stack.prometheus.scrape_targets),
        "port_fallbacks": [list(f) for f in stack.port_fallbacks()],
    }
    return atomic_write(home / _STATE_FILE, json.dumps(state, indent=2) + "\n")


def forget_stack(folder: str | os.PathLike[str] | None = None) -> None:
    """Remove the state file when it records this process's stack."""
    path = stack_dir(folder) / _STATE_FILE
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text())["pid"] == os.getpid():
            path.unlink()


def recorded_stack(folder: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The recorded stack with ``running`` (its supervising process lives) and each server's
    ``running`` filled in now, or ``None`` when no state file exists."""
    path = stack_dir(folder) / _STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
        pid = int(state["pid"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StackError(f"{path}: not a stack state file ({exc}); remove it") from exc
    state["running"] = _alive(pid, "agentinsight")
    state["state_file"] = str(path)
    for server in state.get("servers", []):
        server["running"] = bool(server.get("pid")) and _alive(int(server["pid"]),
                                                                str(server.get("program", "")))
    return state


def stop_recorded_stack(folder: str | os.PathLike[str] | None = None,
                        timeout: float = 30.0) -> dict[str, Any] | None:
    """Stop the recorded stack: SIGTERM to its supervising process (which stops its servers),
    then to any server still running; remove the state file. Returns the state as it was, or
    ``None`` when nothing was recorded. Raises ``StackError`` when a process outlives
    ``timeout``."""
    state = recorded_stack(folder)
    if state is None:
        return None
    targets = []
    if state["running"]:
        targets.append((int(state["pid"]), "agentinsight"))
    targets += [(int(s["pid"]), str(s["program"])) for s in state["servers"] if s["running"]]
    deadline = time.monotonic() + timeout
    for pid, marker in targets:
        if _alive(pid, marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        while _alive(pid, marker):
            if time.monotonic() > deadline:
                raise StackError(f"process {pid} ({marker}) did not stop within {timeout:g}s")
            time.sleep(0.1)
    Path(state["state_file"]).unlink(missing_ok=True)
    return state
