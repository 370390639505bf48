"""Talking to Alertmanager's v2 API: alert documents, sending with retries, and the spool.

Kept apart from :mod:`agentinsight.alerts` so that the public module reads as the API and this one
as the plumbing. HTTP goes through the package's standard-library client, so pushing alerts
needs no HTTP library.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentinsight._fs import atomic_write, locked
from agentinsight._http import Client
from agentinsight._time import parse_rfc3339
from agentinsight.exceptions import QueryError, SourceError

__all__: list[str] = []

#: Label values longer than this are cut and end with :data:`TRUNCATION_MARKER`.
MAX_LABEL_VALUE_LENGTH = 200
TRUNCATION_MARKER = "…[truncated]"
#: Alerts per POST; Alertmanager accepts more, but one bad alert rejects the request.
BATCH_SIZE = 200
SPOOL_FILE = "pending-alerts.jsonl"
#: Spool lines that could not be read are moved here (with their line number), never dropped.
CORRUPT_FILE = "pending-alerts.corrupt.jsonl"
_LOCK_FILE = "pending-alerts.lock"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass
class Rejection:
    """An alert Alertmanager refused, and what it said."""

    fingerprint: str
    reason: str

    def __str__(self) -> str:
        return f"{self.fingerprint}: {self.reason}"


@dataclass
class PushResult:
    """What one push did, by finding fingerprint.

    ``sent`` were delivered firing, ``resolved`` were delivered resolved (their finding has
    ended), ``spooled`` are kept in the spool file for the next push (``spool_reason`` says why),
    ``rejected`` were refused by Alertmanager (each with the server's message) and are not retried.
    ``replayed`` lists fingerprints from an earlier push's spool that were delivered this time
    (they also appear in ``sent`` or ``resolved``).
    """

    sent: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    spooled: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)
    spool_reason: str = ""

    @property
    def ok(self) -> bool:
        """True when every alert reached Alertmanager and none was refused."""
        return not self.spooled and not self.rejected

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{len(items)}</td></tr>"
            for name, items in (("firing sent", self.sent), ("resolved sent", self.resolved),
                                ("spooled", self.spooled), ("rejected", self.rejected))
        )
        notes = "".join(f"<li>rejected {html.escape(str(r))}</li>" for r in self.rejected)
        if self.spooled:
            notes += f"<li>spooled because: {html.escape(self.spool_reason)}</li>"
        return f"<table>{rows}</table>" + (f"<ul>{notes}</ul>" if notes else "")

    def __str__(self) -> str:
        parts = [
            f"{len(self.sent)} firing sent",
            f"{len(self.resolved)} resolved sent",
            f"{len(self.spooled)} spooled",
            f"{len(self.rejected)} rejected",
        ]
        if self.replayed:
            parts.append(f"{len(self.replayed)} of them from the spool")
        lines = [", ".join(parts)]
        if self.spooled:
            lines.append(f"spooled because: {self.spool_reason}")
        lines.extend(f"rejected {r}" for r in self.rejected)
        return "\n".join(lines)


# --- alert documents -----------------------------------------------------------------------------


def sanitize_label_name(name: str) -> str:
    """A valid Prometheus/Alertmanager label name for ``name`` (invalid characters become ``_``).

    >>> sanitize_label_name("gen_ai.request.model"), sanitize_label_name("2xx")
    ('gen_ai_request_model', '_2xx')
    """
    if _LABEL_NAME.match(name):
        return name
    clean = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    if not clean or clean[0].isdigit():
        clean = "_" + clean
    return clean


def truncate_value(value: str, limit: int = MAX_LABEL_VALUE_LENGTH) -> str:
    """``value`` cut to ``limit`` characters, ending with a visible marker when it was cut.

    >>> truncate_value("x" * 300, 20)
    'xxxxxxxx…[truncated]'
    """
    if len(value) <= limit:
        return value
    return value[: max(limit - len(TRUNCATION_MARKER), 0)] + TRUNCATION_MARKER


def alert_fingerprint(alert: dict[str, Any]) -> str:
    """The finding fingerprint an alert document carries (its ``fingerprint`` label)."""
    return str(alert.get("labels", {}).get("fingerprint", ""))


def is_resolved(alert: dict[str, Any], now: float | None = None) -> bool:
    """True when the alert's ``endsAt`` is set and not in the future."""
    ends = alert.get("endsAt")
    if not ends:
        return False
    return parse_rfc3339(ends).timestamp() <= (time.time() if now is None else now)


# --- HTTP ----------------------------------------------------------------------------------------


class _Unreachable(Exception):
    """Alertmanager could not take the request now (network error, timeout, 5xx, ...)."""


class _Refused(Exception):
    """Alertmanager refused the request's content (HTTP 400/422) with ``message``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def client(*, timeout: float, retries: int, backoff: float) -> Client:
    """A client that retries connection errors, timeouts, 429 and 5xx with backoff."""
    return Client(timeout=timeout, retries=retries, backoff=backoff, retry_timeouts=True)


def post_json(url: str, body: Any, *, timeout: float, retries: int, backoff: float,
              via: Client | None = None) -> None:
    """POST ``body`` as JSON (through ``via`` when given, to reuse its connections).

    Raises ``_Refused`` for 400/422 (not retried: the same body would fail again) and
    ``_Unreachable`` when every attempt failed otherwise (401/403/404 are not retried either:
    a configuration problem that asking again will not fix).
    """
    sender = via or client(timeout=timeout, retries=retries, backoff=backoff)
    try:
        sender.post(url, json=body, ok=range(200, 300))
    except QueryError as exc:
        raise _Refused(exc.server_message or str(exc)) from None
    except SourceError as exc:
        raise _Unreachable(str(exc)) from None
    finally:
        if via is None:
            sender.close()


def send(
    url: str,
    alerts: Sequence[dict[str, Any]],
    *,
    timeout: float,
    retries: int,
    backoff: float,
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]], list[dict[str, Any]], str]:
    """Send alerts in batches; returns (delivered, refused with message, undelivered, reason).

    A batch Alertmanager refuses is re-sent one alert at a time so that only the culprit is
    refused (re-sending the good ones is harmless: Alertmanager merges identical label sets).
    Once Alertmanager is unreachable, the remaining alerts are not tried.
    """
    endpoint = url.rstrip("/") + "/api/v2/alerts"
    with client(timeout=timeout, retries=retries, backoff=backoff) as via:
        return _send(endpoint, list(alerts), via)


def _send(endpoint: str, pending: list[dict[str, Any]], via: Client
          ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]],
                     list[dict[str, Any]], str]:
    delivered: list[dict[str, Any]] = []
    refused: list[tuple[dict[str, Any], str]] = []
    timeout, retries, backoff = via.timeout, via.retries, via.backoff
    for start in range(0, len(pending), BATCH_SIZE):
        batch = pending[start : start + BATCH_SIZE]
        try:
            post_json(endpoint, batch, timeout=timeout, retries=retries, backoff=backoff,
                      via=via)
            delivered.extend(batch)
            continue
        except _Unreachable as exc:
            return delivered, refused, pending[start:], str(exc)
        except _Refused:
            pass
        for i, alert in enumerate(batch):
            try:
                post_json(endpoint, [alert], timeout=timeout, retries=retries, backoff=backoff,
                          via=via)
                delivered.append(alert)
            except _Refused as exc:
                refused.append((alert, exc.message))
            except _Unreachable as exc:
                return delivered, refused, batch[i:] + pending[start + BATCH_SIZE :], str(exc)
    return delivered, refused, [], ""


# --- spool ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def spool_lock(spool_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the spool while reading and rewriting it."""
    with locked(spool_dir / _LOCK_FILE):
        yield


def read_spool(spool_dir: Path) -> list[dict[str, Any]]:
    """Every spooled entry (``{"alertmanager_url", "spooled_at", "alert"}``), oldest first.

    A line that cannot be read (a disk that filled up, a hand edit) does not block the others:
    it is appended to :data:`CORRUPT_FILE` beside the spool with a warning naming the line, and
    the spool is rewritten without it by the push that read it.
    """
    path = spool_dir / SPOOL_FILE
    if not path.exists():
        return []
    entries, corrupt = [], []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict) or not isinstance(entry.get("alert"), dict):
                    raise ValueError("expected an object with an 'alert' object")
            except ValueError as exc:
                corrupt.append((number, line.rstrip("\n"), str(exc)))
                continue
            entries.append(entry)
    if corrupt:
        with open(spool_dir / CORRUPT_FILE, "a", encoding="utf-8") as out:
            for number, line, _ in corrupt:
                out.write(json.dumps({"line": number, "text": line}) + "\n")
        where = ", ".join(f"{path}:{n} ({why})" for n, _, why in corrupt[:3])
        more = f" and {len(corrupt) - 3} more" if len(corrupt) > 3 else ""
        warnings.warn(f"corrupt alert spool entries {where}{more} were moved to "
                      f"{spool_dir / CORRUPT_FILE}; the other entries are delivered",
                      stacklevel=2)
    return entries


def write_spool(spool_dir: Path, entries: Sequence[dict[str, Any]]) -> None:
    """Replace the spool with ``entries`` atomically (temp file + rename), or remove it if empty."""
    path = spool_dir / SPOOL_FILE
    if not entries:
        path.unlink(missing_ok=True)
        return
    atomic_write(path, "".join(json.dumps(entry, separators=(",", ":")) + "\n"
                               for entry in entries))


def alert_key(alert: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Alertmanager's identity of an alert: its sorted label set."""
    return tuple(sorted((str(k), str(v)) for k, v in alert.get("labels", {}).items()))
