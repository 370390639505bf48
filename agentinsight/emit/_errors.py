"""The never-raise rule: a failure inside telemetry is logged once and becomes a no-op.

Strict mode re-raises instead, so bugs surface in tests. It is on only under an explicit switch:
``AGENTINSIGHT_STRICT=true``, or while pytest runs a test (pytest sets ``PYTEST_CURRENT_TEST``).
Merely importing pytest (as some agents' dependencies do) changes nothing. ``STRICT`` overrides
both (``None`` = decide from the environment): tests of the rule itself set it to ``False``.
"""

from __future__ import annotations

import logging
import os
import threading

from agentinsight.emit._settings import SETTINGS
from agentinsight.exceptions import ConfigurationError

# Found once at import: strict() also runs while the interpreter shuts down (an exporter failing
# at exit), when nothing can be imported any more.
_STRICT_SETTING = next(s for s in SETTINGS if s.name == "strict")

logger = logging.getLogger("agentinsight.emit")

#: ``True``/``False`` forces strict (re-raise) mode on or off; ``None`` reads the environment.
STRICT: bool | None = None

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # A thread of the parent (the span exporter's) may hold the lock at the moment of a fork.
    global _warned_lock
    _warned_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def strict() -> bool:
    """Whether telemetry failures re-raise instead of being swallowed: ``STRICT`` when set, else
    ``AGENTINSIGHT_STRICT`` when set, else whether pytest is running a test right now."""
    if STRICT is not None:
        return STRICT
    try:
        switch = _STRICT_SETTING.resolve()
    except ConfigurationError:  # a bad value is reported by configure(); here it means "off"
        return False
    if switch is not None:
        return bool(switch)
    return "PYTEST_CURRENT_TEST" in os.environ


def warn_once(key: str, message: str, *args: object, level: int = logging.WARNING) -> None:
    """Log ``message`` the first time ``key`` is seen; later calls are silent."""
    if key in _warned:
        return
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.log(level, message, *args)


def forget(key: str) -> None:
    """Let ``key`` warn again (after the condition it reported has cleared)."""
    with _warned_lock:
        _warned.discard(key)


def internal_error(where: str, exc: BaseException) -> None:
    """Handle an exception raised inside emit itself: re-raise in strict mode, else log once."""
    if strict():
        raise exc
    key = f"internal:{where}:{type(exc).__name__}"
    if key in _warned:
        return
    with _warned_lock:
        _warned.add(key)
    logger.error(
        "agentinsight.emit: internal error in %s (telemetry for this call is skipped; the agent "
        "is not affected; further errors of this kind are not logged)",
        where,
        exc_info=exc,
    )
