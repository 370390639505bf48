"""``agentinsight schedule``: run report notebooks when their cron schedule says they are due.

``schedules.yaml``::

    out: reports                      # where reports go (default: reports)
    schedules:
      - name: daily                   # unique; names the lock and the state entry
        report: daily_report          # a notebook in notebooks/
        cron: "0 6 * * *"             # standard 5-field cron, always UTC
        params:                       # notebook parameters; relative times resolve at run time
          source_dir: data/demo
          start: now-1d
          end: now
        alertmanager: http://alertmanager:9093   # optional: push findings after the run

Text values may name environment variables as a shell or Docker Compose would: ``${VAR}``,
``${VAR:-default}`` (the default when VAR is unset or empty) and ``${VAR-default}`` (when unset),
so one file serves a laptop and a cluster::

    params:
      prometheus_url: ${PROMETHEUS_URL:-http://localhost:9090}

A variable that is unset and has no default is an error naming the file, the schedule and the
variable.

Rules:

- ``--once`` runs what is due and exits (for cron, systemd timers, Kubernetes CronJobs); without
  it the scheduler runs until SIGTERM/SIGINT, sleeping until the next slot.
- A schedule is due when its most recent cron slot is newer than the last slot it ran for. Only
  that latest slot runs: a scheduler that was down for three days catches up once, not three times.
- No two runs of the same schedule overlap: each run holds an exclusive lock file; a run that finds
  the lock taken is skipped and logged. Once it holds the lock, a scheduler reads the state again
  and skips a slot that another scheduler finished meanwhile, so a slot runs once.
- Each run is a child process (``agentinsight report run …``). On SIGTERM the scheduler forwards
  the signal, the child abandons its run (its temporary folder is removed, nothing looks complete),
  the slot is left un-run so the next start catches it up, and the scheduler exits.
- Every decision is logged as a JSON line in ``<out>/.schedule/schedule.log`` and on stderr.
- A folder the scheduler cannot write to (read-only, disk full, no permission) stops it with a
  :class:`~agentinsight.exceptions.ReportError` naming the folder and the system's reason; its
  state file is replaced in one step or not at all, so the slot simply runs again next time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentinsight._fs import atomic_write, locked
from agentinsight._time import now as now_utc
from agentinsight.exceptions import ConfigurationError, ReportError
from agentinsight.reports._runner import _name_problem

__all__ = ["Schedule", "due", "load_schedules", "run_once", "serve"]


@dataclass(frozen=True)
class Schedule:
    """One entry of schedules.yaml."""

    name: str
    report: str
    cron: str
    params: dict[str, Any] = field(default_factory=dict)
    alertmanager: str | None = None

    def latest_slot(self, now: dt.datetime) -> dt.datetime:
        """The most recent cron slot at or before ``now`` (UTC)."""
        from croniter import croniter

        return croniter(self.cron, now + dt.timedelta(seconds=1)).get_prev(dt.datetime)

    def next_slot(self, now: dt.datetime) -> dt.datetime:
        from croniter import croniter

        return croniter(self.cron, now).get_next(dt.datetime)


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}")


def _expand(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    """``value`` with ``${VAR}``, ``${VAR:-default}`` and ``${VAR-default}`` in its strings
    (nested too) replaced from ``environ``.

    >>> _expand({"url": "${PROM:-http://localhost:9090}/"}, "here", {})
    {'url': 'http://localhost:9090/'}
    >>> _expand(["${PROM:-x}", "${PROM-x}"], "here", {"PROM": ""})
    ['x', '']
    """
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name, operator, default = match.groups()
            found = environ.get(name)
            if operator == ":-" and not found:
                return str(default)
            if operator == "-" and found is None:
                return str(default)
            if found is None:
                raise ConfigurationError(
                    f"{where}: environment variable {name} is not set (write "
                    f"${{{name}:-default}} to give a default)")
            return found

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}", environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", environ) for i, v in enumerate(value)]
    return value


def load_schedules(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
                   ) -> tuple[list[Schedule], Path]:
    """Read and validate a schedules file; returns the schedules and the reports folder.

    ``${VAR}`` references in text values are filled from ``environ`` (default ``os.environ``).
    """
    import yaml
    from croniter import croniter

    file = Path(path)
    environ = os.environ if environ is None else environ
    try:
        doc = yaml.safe_load(file.read_text()) or {}
    except OSError as exc:
        raise ConfigurationError(f"{file}: cannot read schedules: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("schedules"), list):
        raise ConfigurationError(f"{file}: expected a mapping with a 'schedules' list")
    schedules, seen = [], set()
    for i, entry in enumerate(doc["schedules"]):
        where = f"{file}: schedules[{i}]"
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where}: expected a mapping")
        missing = [k for k in ("name", "report", "cron") if not entry.get(k)]
        if missing:
            raise ConfigurationError(f"{where}: missing {missing}")
        for key in ("name", "report"):  # each becomes a file or folder name: keep it in its folder
            problem = _name_problem(str(entry[key]))
            if problem is not None:
                raise ConfigurationError(f"{where}: {key} {str(entry[key])!r}: {problem}")
        unknown = sorted(set(entry) - {"name", "report", "cron", "params", "alertmanager"})
        if unknown:
            raise ConfigurationError(f"{where}: unknown key(s) {unknown}")
        if not croniter.is_valid(str(entry["cron"])):
            raise ConfigurationError(f"{where} ({entry['name']}): invalid cron expression "
                                     f"{entry['cron']!r}")
        if entry["name"] in seen:
            raise ConfigurationError(f"{where}: duplicate name {entry['name']!r}")
        seen.add(entry["name"])
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise ConfigurationError(f"{where}: 'params' must be a mapping")
        named = f"{where} ({entry['name']})"
        params = _expand(params, f"{named}: params", environ)
        alertmanager = _expand(entry.get("alertmanager"), f"{named}: alertmanager", environ)
        schedules.append(Schedule(str(entry["name"]), str(entry["report"]), str(entry["cron"]),
                                  params, alertmanager or None))
    out = Path(_expand(str(doc.get("out", "reports")), f"{file}: out", environ))
    if not out.is_absolute():
        out = file.parent / out
    return schedules, out


def due(schedules: Sequence[Schedule], state: dict[str, Any], now: dt.datetime
        ) -> list[tuple[Schedule, dt.datetime]]:
    """The schedules due at ``now`` with the slot each would run for."""
    result = []
    for schedule in schedules:
        slot = schedule.latest_slot(now)
        last = state.get(schedule.name, {}).get("last_slot")
        if last is None or dt.datetime.fromisoformat(last) < slot:
            result.append((schedule, slot))
    return result


class _Scheduler:
    def __init__(self, schedules: list[Schedule], out: Path,
                 runner: Callable[[Schedule, Path], int] | None = None) -> None:
        self.schedules = schedules
        self.out = out
        self.home = out / ".schedule"
        with self.writing():
            self.home.mkdir(parents=True, exist_ok=True)
        self.runner = runner or self._run_child
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False

    # state and log -----------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Any:
        """Turn a failure to write the scheduler's own files into an error naming the folder."""
        try:
            yield
        except BlockingIOError:
            raise
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ReportError(
                f"schedule: cannot write to {self.home} ({reason}); the folder must be writable "
                "and have free space. The schedule state there is unchanged: a slot not recorded "
                "as run runs again at the next start"
            ) from exc

    def state(self) -> dict[str, Any]:
        try:
            return json.loads((self.home / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def _save_state(self, name: str, entry: dict[str, Any]) -> None:
        # Re-read under the state lock so schedulers in parallel processes don't lose updates.
        with locked(self.home / "state.lock"):
            state = self.state()
            state[name] = entry
            atomic_write(self.home / "state.json", json.dumps(state, indent=2))

    def log(self, event: str, **fields: Any) -> None:
        line = json.dumps({"time": now_utc().isoformat(), "event": event, **fields},
                          default=str)
        with open(self.home / "schedule.log", "a") as handle:
            handle.write(line + "\n")
        print(line, file=sys.stderr, flush=True)

    # running -----------------------------------------------------------------------------
    def run_due(self, now: dt.datetime) -> list[dict[str, Any]]:
        outcomes = []
        with self.writing():
            for schedule, slot in due(self.schedules, self.state(), now):
                if self.stopping:
                    break
                outcomes.append(self._run_locked(schedule, slot))
        return outcomes

    def _run_locked(self, schedule: Schedule, slot: dt.datetime) -> dict[str, Any]:
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(locked(self.home / f"{schedule.name}.lock", blocking=False))
            except BlockingIOError:
                self.log("skipped", schedule=schedule.name, slot=slot,
                         reason="a run of this schedule is still in progress")
                return {"schedule": schedule.name, "slot": slot, "status": "skipped"}
            # The due list was computed before this lock was taken: another scheduler may have
            # run this slot since. Only the state read under the lock tells.
            last = self.state().get(schedule.name, {}).get("last_slot")
            if last is not None and dt.datetime.fromisoformat(last) >= slot:
                self.log("skipped", schedule=schedule.name, slot=slot,
                         reason="another scheduler already ran this slot")
                return {"schedule": schedule.name, "slot": slot, "status": "skipped"}
            self.log("started", schedule=schedule.name, report=schedule.report, slot=slot)
            began = time.monotonic()
            code = self.runner(schedule, self.out)
            took = round(time.monotonic() - began, 1)
            if self.stopping and code != 0:
                self.log("abandoned", schedule=schedule.name, slot=slot, seconds=took)
                return {"schedule": schedule.name, "slot": slot, "status": "abandoned"}
            status = "ok" if code == 0 else "failed"
            self._save_state(schedule.name, {"last_slot": slot.isoformat(), "status": status,
                                             "finished_at": now_utc().isoformat()})
            self.log("finished", schedule=schedule.name, slot=slot, status=status,
                     exit_code=code, seconds=took)
            return {"schedule": schedule.name, "slot": slot, "status": status}

    def _run_child(self, schedule: Schedule, out: Path) -> int:
        cmd = [sys.executable, "-m", "agentinsight", "report", "run", schedule.report,
               "--out", str(out)]
        for key, value in schedule.params.items():
            text = value if isinstance(value, str) else json.dumps(value)
            cmd += ["--param", f"{key}={text}"]
        if schedule.alertmanager:
            cmd += ["--alertmanager", schedule.alertmanager]
        self.child = subprocess.Popen(cmd)
        try:
            return self.child.wait()
        finally:
            self.child = None

    def stop(self, signum: int, _frame: Any) -> None:
        self.stopping = True
        self.log("signal", signal=signal.Signals(signum).name,
                 running=self.child is not None)
        if self.child is not None:
            self.child.send_signal(signal.SIGTERM)


def run_once(path: str | os.PathLike[str], *, now: dt.datetime | None = None,
             runner: Callable[[Schedule, Path], int] | None = None) -> list[dict[str, Any]]:
    """Run every schedule in ``path`` that is due at ``now`` (default: the current time).

    ``runner(schedule, out) -> exit code`` replaces the child process (tests use it).
    """
    schedules, out = load_schedules(path)
    return _Scheduler(schedules, out, runner).run_due(now or now_utc())


def serve(path: str | os.PathLike[str], *, once: bool = False,
          now: dt.datetime | None = None) -> int:
    """Run the schedules in ``path``: what is due now, then (unless ``once``) each next slot until
    SIGTERM or SIGINT. ``now`` pretends the current time is fixed (for testing). Returns the exit
    code: 1 when a ``once`` run had a failure, 143 after a signal, else 0."""
    schedules, out = load_schedules(path)
    scheduler = _Scheduler(schedules, out)
    signal.signal(signal.SIGTERM, scheduler.stop)
    signal.signal(signal.SIGINT, scheduler.stop)
    with scheduler.writing():
        scheduler.log("start", mode="once" if once else "loop", schedules=len(schedules))
    while True:
        current = now or now_utc()
        outcomes = scheduler.run_due(current)
        if once or scheduler.stopping:
            failed = any(o["status"] == "failed" for o in outcomes)
            return 1 if failed else (143 if scheduler.stopping else 0)
        wake = min(s.next_slot(current) for s in schedules) if schedules else current
        while not scheduler.stopping and now_utc() < wake:
            time.sleep(min(5.0, max(0.1, (wake - now_utc()).total_seconds())))
        if scheduler.stopping:
            with scheduler.writing():
                scheduler.log("stopped")
            return 0
