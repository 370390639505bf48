"""Settings, declared once: name, environment variables, default, meaning.

Precedence is fixed: an argument wins over the environment, which wins over the default. An
environment variable that is unset or blank counts as not given; the first of a setting's
variables that is set wins. A bad value is a :class:`~agentinsight.exceptions.ConfigurationError`
that names where it came from (the argument or the variable).

This module holds the machinery (:class:`Setting`, :func:`resolve`, the value parsers) and the
table of settings read outside ``emit`` (:data:`SETTINGS`: folders and program paths);
``agentinsight.emit`` declares its own table with the same machinery.

>>> SETTINGS_BY_NAME["notebooks"].resolve("my/notebooks", environ={})
PosixPath('my/notebooks')
>>> SETTINGS_BY_NAME["notebooks"].resolve(environ={"AGENTINSIGHT_NOTEBOOKS": "team/nb"})
PosixPath('team/nb')
>>> SETTINGS_BY_NAME["cache"].resolve(environ={"XDG_CACHE_HOME": "/var/cache"})
PosixPath('/var/cache/agentinsight')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentinsight.exceptions import ConfigurationError

__all__ = [
    "PROGRAMS",
    "SETTINGS",
    "SETTINGS_BY_NAME",
    "Setting",
    "flag",
    "folder",
    "path",
    "positive_float",
    "positive_int",
    "program",
    "program_setting",
    "ratio",
    "resolve_table",
    "text",
    "where",
]

Environ = Mapping[str, str]


# --- value parsers: (raw value, setting name, where it came from) -> value ------------------------


def where(source: str) -> str:
    """``argument``, or the environment variable a value came from, for error messages."""
    return "argument" if source == "argument" else f"environment variable {source}"


def text(raw: Any, name: str, source: str) -> str:
    """A non-empty string, stripped."""
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigurationError(f"{name}={raw!r} ({where(source)}): expected a non-empty string")
    return raw.strip()


def ratio(raw: Any, name: str, source: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if isinstance(raw, bool) or not 0.0 <= value <= 1.0:
        raise ConfigurationError(f"{name}={raw!r} ({where(source)}): expected a number in [0, 1]")
    return value


def positive_int(raw: Any, name: str, source: str) -> int:
    """An integer of at least 1."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if isinstance(raw, bool | float) or value < 1:
        raise ConfigurationError(f"{name}={raw!r} ({where(source)}): expected a positive integer")
    return value


def positive_float(raw: Any, name: str, source: str) -> float:
    """A number greater than 0."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = 0.0
    if isinstance(raw, bool) or not value > 0:
        raise ConfigurationError(f"{name}={raw!r} ({where(source)}): expected a positive number")
    return value


def flag(raw: Any, name: str, source: str) -> bool:
    """true/1/yes/on or false/0/no/off (any case)."""
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off", ""):
        return False
    raise ConfigurationError(f"{name}={raw!r} ({where(source)}): expected true or false")


def path(raw: Any, name: str, source: str) -> str:
    """A path as text: a non-empty string, or any ``os.PathLike``."""
    return os.fspath(raw) if not isinstance(raw, str) else text(raw, name, source)


def folder(raw: Any, name: str, source: str) -> Path:
    """A folder as a :class:`~pathlib.Path` (it need not exist yet)."""
    return Path(path(raw, name, source))


def program(raw: Any, name: str, source: str) -> str:
    """The path of an executable file."""
    value = path(raw, name, source)
    if not os.access(value, os.X_OK):
        raise ConfigurationError(f"{name}={raw!r} ({where(source)}): not an executable file")
    return value


# --- the machinery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One setting: its name (the argument), environment variables, default and meaning.

    ``derive`` computes the default from the environment when it depends on another variable
    (``$XDG_CACHE_HOME``); otherwise ``default`` is the value used when nothing is given.
    """

    name: str
    env: tuple[str, ...]
    default: Any
    parse: Callable[[Any, str, str], Any]
    doc: str
    derive: Callable[[Environ], Any] | None = None

    def resolve(self, argument: Any = None, environ: Environ | None = None) -> Any:
        """The value: ``argument`` (unless ``None``) > the first set variable > the default."""
        env = os.environ if environ is None else environ
        if argument is not None:
            return self.parse(argument, self.name, "argument")
        for var in self.env:
            value = env.get(var, "").strip()
            if value:
                return self.parse(value, self.name, var)
        return self.derive(env) if self.derive is not None else self.default


def resolve_table(settings: Iterable[Setting], arguments: Mapping[str, Any],
            environ: Environ | None = None, *, what: str = "") -> dict[str, Any]:
    """Every setting of a table resolved (:meth:`Setting.resolve`); an argument naming no
    setting is an error (``what`` says whose settings they are)."""
    table = {s.name: s for s in settings}
    unknown = set(arguments) - set(table)
    if unknown:
        whose = f"{what} " if what else ""
        raise ConfigurationError(f"unknown {whose}setting(s): {', '.join(sorted(unknown))}")
    return {name: s.resolve(arguments.get(name), environ) for name, s in table.items()}


# --- the settings read outside emit -------------------------------------------------------------


def _user_cache(env: Environ) -> Path:
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agentinsight"


#: The programs ``agentinsight.stack`` runs, each with an ``AGENTINSIGHT_<NAME>_BIN`` override.
PROGRAMS = ("prometheus", "promtool", "alertmanager", "prometheus-alertmanager", "amtool",
            "victoria-metrics", "jaeger")


def _program_name(name: str) -> str:
    return name.replace("-", "_") + "_bin"


SETTINGS: tuple[Setting, ...] = (
    Setting("notebooks", ("AGENTINSIGHT_NOTEBOOKS",), None, folder,
            "Folder of report notebooks; default: the notebooks the package ships."),
    Setting("alert_spool", ("AGENTINSIGHT_ALERT_SPOOL",), None, folder,
            "Folder where undeliverable alerts wait for the next push; default "
            "$XDG_CACHE_HOME/agentinsight/alert-spool (~/.cache when XDG_CACHE_HOME is unset).",
            derive=lambda env: _user_cache(env) / "alert-spool"),
    Setting("stack_dir", ("AGENTINSIGHT_STACK_DIR",), None, folder,
            "Folder of the local stack's state file (stack.json: what `agentinsight stack up` "
            "started, its PIDs and ports) and its log; default "
            "$XDG_CACHE_HOME/agentinsight/stack (~/.cache when XDG_CACHE_HOME is unset).",
            derive=lambda env: _user_cache(env) / "stack"),
    Setting("cache", ("AGENTINSIGHT_CACHE",), None, folder,
            "Cache folder (the Jaeger binary built once); default $XDG_CACHE_HOME/agentinsight "
            "(~/.cache when XDG_CACHE_HOME is unset).",
            derive=_user_cache),
    *(Setting(_program_name(name), ("AGENTINSIGHT_" + name.upper().replace("-", "_") + "_BIN",),
              None, program, f"Path of the {name} program; default: searched for.")
      for name in PROGRAMS),
)

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def program_setting(name: str) -> Setting:
    """The setting holding the path of program ``name`` (``AGENTINSIGHT_<NAME>_BIN``).

    >>> program_setting("victoria-metrics").env
    ('AGENTINSIGHT_VICTORIA_METRICS_BIN',)
    """
    return SETTINGS_BY_NAME[_program_name(name)]
