"""Process plumbing behind :mod:`agentinsight.stack`: programs, ports, readiness, clean stops.

Everything here is private; the public names are re-exported by ``agentinsight.stack``.
Configuration files are written as JSON, which every YAML parser (Prometheus, Alertmanager,
Jaeger) reads, so the base install needs no YAML library.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from agentinsight._http import Client
from agentinsight.exceptions import StackError

#: The Jaeger release the project pins (tools/jaeger/go.mod requires the same version).
JAEGER_VERSION = "v1.76.0"

#: program -> (names to look for on PATH, Debian package that ships it)
_PROGRAMS: dict[str, tuple[tuple[str, ...], str]] = {
    "prometheus": (("prometheus",), "prometheus"),
    "promtool": (("promtool",), "prometheus"),
    "alertmanager": (("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager"),
    "prometheus-alertmanager": (
        ("prometheus-alertmanager", "alertmanager"),
        "prometheus-alertmanager",
    ),
    "amtool": (("amtool",), "prometheus-alertmanager"),
    "victoria-metrics": (("victoria-metrics", "victoria-metrics-prod"), "victoria-metrics"),
}

_LOG_TAIL_LINES = 40
# Servers here come and go on fresh ports: no idle connections are kept, nothing is retried.
_CLIENT = Client(retries=0, pool_size=0)
_ADDRESS_IN_USE = ("address already in use", "bind: address already in use")


class ProgramNotFoundError(StackError):
    """A server program is not installed; ``program`` and ``install_hint`` say which and how."""

    def __init__(self, program: str, install_hint: str) -> None:
        self.program = program
        self.install_hint = install_hint
        super().__init__(f"program {program!r} not found; {install_hint}")


def _configured_program(name: str) -> str | None:
    """``$AGENTINSIGHT_<NAME>_BIN`` when set; an unusable one names the variable."""
    from agentinsight._settings import program_setting
    from agentinsight.exceptions import ConfigurationError

    try:
        found: str | None = program_setting(name).resolve()
    except ConfigurationError as exc:
        raise ProgramNotFoundError(name, str(exc)) from None
    return found


def _cache_dir() -> Path:
    from agentinsight._settings import SETTINGS_BY_NAME

    cache: Path = SETTINGS_BY_NAME["cache"].resolve()
    return cache


def _jaeger_build_script() -> Path:
    return Path(__file__).resolve().parent.parent / "tools" / "jaeger" / "build.sh"


def jaeger_cache_path() -> Path:
    """Where ``tools/jaeger/build.sh`` puts the Jaeger binary it builds.

    >>> jaeger_cache_path().name
    'jaeger'
    """
    return _cache_dir() / f"jaeger-{JAEGER_VERSION}" / "jaeger"


def _find_jaeger(build: bool) -> str:
    configured = _configured_program("jaeger")
    if configured:
        return configured
    cached = jaeger_cache_path()
    if os.access(cached, os.X_OK):
        return str(cached)
    script = _jaeger_build_script()
    if build and script.is_file():
        done = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, check=False, timeout=3600
        )
        if done.returncode == 0 and os.access(done.stdout.strip(), os.X_OK):
            return done.stdout.strip()
        raise StackError(f"building Jaeger with {script} failed:\n{_tail(done.stderr)}")
    return _which_or_raise(
        "jaeger",
        ("jaeger",),
        f"build it once with tools/jaeger/build.sh (it writes {cached}) "
        "or set AGENTINSIGHT_JAEGER_BIN",
    )


def _which_or_raise(name: str, candidates: Sequence[str], hint: str) -> str:
    for candidate in candidates:
        for path in (shutil.which(candidate), f"/usr/sbin/{candidate}", f"/sbin/{candidate}"):
            if path and os.access(path, os.X_OK):
                return path
    raise ProgramNotFoundError(name, hint)


def find_program(name: str, *, build: bool = False) -> str:
    """Return the path of a server program, or raise ``ProgramNotFoundError`` saying how to get it.

    ``name`` is one of prometheus, promtool, alertmanager (Debian calls it
    prometheus-alertmanager), amtool, victoria-metrics or jaeger. An environment variable
    ``AGENTINSIGHT_<NAME>_BIN`` (e.g. ``AGENTINSIGHT_PROMETHEUS_BIN``) overrides the search.
    Jaeger is looked up in ``$AGENTINSIGHT_JAEGER_BIN``, then in the cache that
    ``tools/jaeger/build.sh`` fills; with ``build=True`` a missing binary is built (minutes).

    >>> find_program("prometheus")  # doctest: +SKIP
    '/usr/bin/prometheus'
    """
    if name == "jaeger":
        return _find_jaeger(build)
    if name not in _PROGRAMS:
        known = ", ".join(sorted({*_PROGRAMS, "jaeger"}))
        raise StackError(f"unknown program {name!r}; known programs: {known}")
    configured = _configured_program(name)
    if configured:
        return configured
    candidates, package = _PROGRAMS[name]
    return _which_or_raise(
        name, candidates, f"install the Debian package: apt-get install {package}"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago (the OS picks it).

    Another process may take it before it is used; servers here retry with a new port when
    their log says the address is in use.

    >>> 1024 <= free_port() <= 65535
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """True when a server could listen on ``host:port`` now (nothing else listens there).

    >>> port_is_free("127.0.0.1", free_port())
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the servers do: a port left in TIME_WAIT by a stopped server counts as free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def http_request(
    url: str, *, method: str = "GET", data: bytes | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    """Send one HTTP request; return (status, body) whatever the status.

    An unreachable server raises ``SourceConnectionError`` (an ``OSError``), no answer in time
    ``SourceTimeoutError`` (also an ``OSError``).
    """
    headers = {"Content-Type": "application/json"} if data is not None else {}
    response = _CLIENT.request(method, url, body=data, headers=headers, ok=None,
                               timeout=timeout)
    return response.status_code, response.content


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM if the Python process that started it dies, even by SIGKILL,
    # so a crashed test run leaves no server holding a port.
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_RUNNING: weakref.WeakSet[ServerProcess] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for server in list(_RUNNING):
        with contextlib.suppress(Exception):
            server.stop()


class ServerProcess:
    """One server program on loopback: ports, a temp work dir, readiness, log, clean stop.

    Subclasses set ``name`` and ``program`` and implement ``_allocate_ports``, ``_command``
    (write config files into ``self.work_dir`` and return argv) and ``_is_ready``.
    """

    name = "server"
    program = ""
    host = "127.0.0.1"
    uses_data_dir = True

    def __init__(self, *, data_dir: str | os.PathLike[str] | None = None,
                 binary: str | None = None, extra_args: Sequence[str] = (),
                 start_timeout: float = 60.0, stop_timeout: float = 15.0,
                 ports: Mapping[str, int] | None = None) -> None:
        # Absolute: the server runs in its own working directory, where a relative path would
        # silently name an empty database.
        self._data_dir_arg = Path(data_dir).resolve() if data_dir is not None else None
        self.binary = binary
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.work_dir: Path | None = None
        self._owned_data_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._final_log = ""
        #: wanted ports by role (e.g. ``{"http": 9090}``); a taken one is replaced by a free one
        self.wanted_ports: dict[str, int] = dict(ports or {})
        #: role -> (wanted port, port used instead) for each wanted port that was taken
        self.port_fallbacks: dict[str, tuple[int, int]] = {}

    # -- hooks -------------------------------------------------------------------------------
    def _allocate_ports(self) -> None:
        raise NotImplementedError

    def _wanted_or(self, role: str, pick_free: Callable[[], int]) -> int:
        """The port wanted for ``role`` when it is free, else ``pick_free()`` (noted in
        ``port_fallbacks``); with no wanted port, ``pick_free()``."""
        wanted = self.wanted_ports.get(role)
        if wanted and port_is_free(self.host, wanted):
            self.port_fallbacks.pop(role, None)
            return wanted
        port = pick_free()
        if wanted:
            self.port_fallbacks[role] = (wanted, port)
        return port

    def _command(self, binary: str) -> list[str]:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        raise NotImplementedError

    # -- public ------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """The data directory: the one given, or a temporary one removed by ``stop()``."""
        if self._data_dir_arg is not None:
            return self._data_dir_arg
        if self._owned_data_dir is None:
            self._owned_data_dir = Path(tempfile.mkdtemp(prefix=f"agentinsight-{self.name}-data-"))
        return self._owned_data_dir

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> Self:
        """Start the server and wait until it is ready; raise ``StackError`` with its log if not."""
        if self.running:
            return self
        binary = self.binary or find_program(self.program)
        if self.uses_data_dir:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            self._allocate_ports()
            if self.work_dir is None:
                self.work_dir = Path(tempfile.mkdtemp(prefix=f"agentinsight-{self.name}-"))
            self._log_path = self.work_dir / f"{self.name}.log"
            argv = self._command(binary) + list(self.extra_args)
            self._spawn(argv)
            try:
                self._wait_ready()
                _RUNNING.add(self)
                return self
            except StackError:
                log = self.log_text()
                self._kill()
                if attempt < 2 and any(m in log.lower() for m in _ADDRESS_IN_USE):
                    continue  # a port was taken between free_port() and the bind: new ports
                self._cleanup()
                raise
            except BaseException:  # e.g. Ctrl-C while waiting: leave no server behind
                self._kill()
                self._cleanup()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``stop_timeout``) and remove temp dirs."""
        _RUNNING.discard(self)
        self._kill()
        self._cleanup()

    def log_text(self) -> str:
        """Everything the server wrote to stdout/stderr (kept after ``stop()``)."""
        if self._log_path is not None and self._log_path.exists():
            with contextlib.suppress(OSError):
                return self._log_path.read_text(errors="replace")
        return self._final_log

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server's log."""
        return _tail(self.log_text(), lines)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {state} {getattr(self, 'url', '')}>"

    # -- internals ---------------------------------------------------------------------------
    def _spawn(self, argv: list[str]) -> None:
        assert self._log_path is not None
        log = open(self._log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        on_main = threading.current_thread() is threading.main_thread()
        try:
            self._process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.work_dir, start_new_session=True,
                # PDEATHSIG fires when the *thread* that forked exits: only safe from the main one.
                preexec_fn=_die_with_parent if on_main else None,
            )
        except OSError as exc:
            raise StackError(f"{self.name}: cannot run {argv[0]}: {exc}") from exc
        finally:
            log.close()

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        delay = 0.05
        while True:
            code = self._process.poll()
            if code is not None:
                raise StackError(
                    f"{self.name} exited with code {code} before it was ready; "
                    f"command: {' '.join(map(str, self._process.args))}\n"  # type: ignore[arg-type]
                    f"--- last lines of its log ---\n{self.log_tail()}"
                )
            try:
                if self._is_ready():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise StackError(
                    f"{self.name} was not ready after {self.start_timeout:g}s; "
                    f"--- last lines of its log ---\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(5)

    def _cleanup(self) -> None:
        self._final_log = self.log_text() or self._final_log
        self._log_path = None
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None
        if self._owned_data_dir is not None:
            shutil.rmtree(self._owned_data_dir, ignore_errors=True)
            self._owned_data_dir = None

    def _http_ok(self, url: str, check: Callable[[bytes], bool] | None = None) -> bool:
        status, body = http_request(url, timeout=2.0)
        return status == 200 and (check is None or check(body))


def run_tool(program: str, args: Sequence[str], *, timeout: float = 600.0,
             cwd: str | os.PathLike[str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool or amtool; a failure raises ``StackError`` with the tool's output."""
    argv = [find_program(program), *map(str, args)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{' '.join(argv)} did not finish within {timeout:g}s") from exc
    if done.returncode != 0:
        raise StackError(
            f"{' '.join(argv)} failed with exit code {done.returncode}:\n"
            f"{_tail(done.stdout + done.stderr)}"
        )
    return done


def json_or_error(name: str, url: str, status: int, body: bytes) -> Any:
    """Decode a JSON answer, or raise ``StackError`` naming the server, URL and its message."""
    import json

    if status != 200:
        message = body[:500].decode(errors="replace")
        raise StackError(f"{name}: {url} answered HTTP {status}: {message}")
    return json.loads(body)
