"""Real Prometheus, Alertmanager, VictoriaMetrics and Jaeger on loopback, for tests and the demo.

Each server starts on free ``127.0.0.1`` ports with a temporary data directory (or the one you
give), waits until it answers its readiness endpoint, and stops cleanly (SIGTERM, then SIGKILL).
A server that cannot start raises :class:`~agentinsight.exceptions.StackError` whose message ends
with the last lines of the server's log. Servers also stop when the Python process exits.

>>> from agentinsight.stack import Prometheus
>>> with Prometheus(scrape_targets=["127.0.0.1:9464"]) as prom:  # doctest: +SKIP
...     prom.query("up")

History is loaded the operators' way (:mod:`agentinsight.stack.load`, re-exported here):
``promtool`` backfill into a directory that ``Prometheus(data_dir=...)`` then serves, the
VictoriaMetrics import API, and OTLP/HTTP into Jaeger.

Programs come from Debian packages (``prometheus``, ``prometheus-alertmanager``,
``victoria-metrics``) and Jaeger v2 from ``tools/jaeger/build.sh``; see :func:`find_program`.
On the command line, ``agentinsight stack up`` starts Prometheus, Alertmanager and Jaeger together
on their usual ports (:data:`DEFAULT_PORTS`, a free one where that is taken) and keeps them running
until Ctrl-C or ``agentinsight stack down``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Self

from agentinsight.exceptions import ConfigurationError
from agentinsight.stack._jaeger import Jaeger
from agentinsight.stack._process import (
    JAEGER_VERSION,
    ProgramNotFoundError,
    ServerProcess,
    find_program,
    free_port,
    jaeger_cache_path,
    run_tool,
)
from agentinsight.stack._servers import Alertmanager, PathLike, Prometheus, VictoriaMetrics
from agentinsight.stack._state import (
    forget_stack,
    record_stack,
    recorded_stack,
    stack_dir,
    stop_recorded_stack,
)
from agentinsight.stack.load import backfill_prometheus, import_victoriametrics, load_jaeger_otlp

__all__ = [
    "Alertmanager",
    "DEFAULT_PORTS",
    "JAEGER_VERSION",
    "Jaeger",
    "ProgramNotFoundError",
    "Prometheus",
    "ServerProcess",
    "Stack",
    "VictoriaMetrics",
    "amtool",
    "backfill_prometheus",
    "find_program",
    "forget_stack",
    "free_port",
    "import_victoriametrics",
    "jaeger_cache_path",
    "load_jaeger_otlp",
    "promtool",
    "record_stack",
    "recorded_stack",
    "stack_dir",
    "stop_recorded_stack",
]


#: The ports each program listens on by default (Prometheus, Alertmanager, the Jaeger UI and
#: query API, OTLP over HTTP and gRPC): what ``Stack(ports=DEFAULT_PORTS)`` asks for.
DEFAULT_PORTS: dict[str, int] = {
    "prometheus": 9090,
    "alertmanager": 9093,
    "jaeger": 16686,
    "otlp_http": 4318,
    "otlp_grpc": 4317,
}


def promtool(*args: PathLike, timeout: float = 600.0) -> str:
    """Run ``promtool`` with ``args``; return its output, or raise ``StackError`` with it.

    >>> promtool("check", "rules", "alerts.rules.yml")  # doctest: +SKIP
    'Checking alerts.rules.yml\\n  SUCCESS: 5 rules found\\n'
    """
    done = run_tool("promtool", [str(a) for a in args], timeout=timeout)
    return done.stdout + done.stderr


def amtool(*args: PathLike, timeout: float = 120.0) -> str:
    """Run ``amtool`` with ``args``; return its output, or raise ``StackError`` with it.

    >>> amtool("check-config", "alertmanager.yml")  # doctest: +SKIP
    """
    done = run_tool("amtool", [str(a) for a in args], timeout=timeout)
    return done.stdout + done.stderr


class Stack:
    """Prometheus, Alertmanager and Jaeger started together, wired to each other.

    Prometheus scrapes ``scrape_targets``, evaluates ``rule_files`` and sends alerts to the
    Alertmanager; agents export traces to ``stack.jaeger.otlp_http_url``. ``ports`` asks for
    ports by part (keys of :data:`DEFAULT_PORTS`); a taken one is replaced by a free port and
    listed by :meth:`port_fallbacks`. Parts not named get free ports.

    >>> with Stack(scrape_targets=["127.0.0.1:9464"]) as stack:  # doctest: +SKIP
    ...     print(stack.urls())
    """

    def __init__(
        self,
        *,
        scrape_targets: Iterable[str] = (),
        scrape_interval: str = "15s",
        rule_files: Iterable[PathLike] = (),
        prometheus_data_dir: PathLike | None = None,
        alertmanager: bool = True,
        alertmanager_config_text: str | None = None,
        jaeger: bool = True,
        jaeger_binary: str | None = None,
        jaeger_max_traces: int = 100_000,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        wanted = dict(ports or {})
        unknown = sorted(set(wanted) - set(DEFAULT_PORTS))
        if unknown:
            raise ConfigurationError(
                f"Stack(ports=...): unknown part(s) {unknown}; known: {sorted(DEFAULT_PORTS)}")
        for part, port in wanted.items():
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise ConfigurationError(f"Stack(ports=...): {part}={port!r} is not a TCP port")

        def asked(**roles: str) -> dict[str, int]:
            return {role: wanted[part] for role, part in roles.items() if part in wanted}

        self.alertmanager = (
            Alertmanager(config_text=alertmanager_config_text,
                         ports=asked(http="alertmanager")) if alertmanager else None
        )
        self.jaeger = (
            Jaeger(binary=jaeger_binary, max_traces=jaeger_max_traces,
                   ports=asked(query="jaeger", otlp_http="otlp_http", otlp_grpc="otlp_grpc"))
            if jaeger else None
        )
        self.prometheus = Prometheus(
            scrape_targets=scrape_targets,
            scrape_interval=scrape_interval,
            rule_files=rule_files,
            data_dir=prometheus_data_dir,
            ports=asked(http="prometheus"),
        )

    def _servers(self) -> list[ServerProcess]:
        return [s for s in (self.alertmanager, self.jaeger, self.prometheus) if s is not None]

    def start(self) -> Self:
        """Start every server (Alertmanager first, so Prometheus can point at it)."""
        try:
            for server in self._servers():
                if server is self.prometheus and self.alertmanager is not None:
                    self.prometheus.alertmanager_url = self.alertmanager.url
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server that is running."""
        for server in reversed(self._servers()):
            server.stop()

    def port_fallbacks(self) -> list[tuple[str, int, int]]:
        """(part, wanted port, port used instead) for each asked-for port that was taken."""
        parts = {"http": None, "query": "jaeger", "otlp_http": "otlp_http",
                 "otlp_grpc": "otlp_grpc"}
        found = []
        for server in self._servers():
            for role, (wanted, used) in server.port_fallbacks.items():
                found.append((parts.get(role) or server.name, wanted, used))
        return found

    def urls(self) -> dict[str, str]:
        """Name -> URL of each running part (and Jaeger's OTLP/HTTP endpoint)."""
        urls = {"prometheus": self.prometheus.url}
        if self.alertmanager is not None:
            urls["alertmanager"] = self.alertmanager.url
        if self.jaeger is not None:
            urls["jaeger"] = self.jaeger.query_url
            urls["otlp_http"] = self.jaeger.otlp_http_url
            urls["otlp_grpc"] = f"{self.jaeger.host}:{self.jaeger.otlp_grpc_port}"
        return urls

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
