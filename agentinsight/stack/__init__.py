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
and keeps them running until Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Self

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
from agentinsight.stack.load import backfill_prometheus, import_victoriametrics, load_jaeger_otlp

__all__ = [
    "Alertmanager",
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
    "free_port",
    "import_victoriametrics",
    "jaeger_cache_path",
    "load_jaeger_otlp",
    "promtool",
]


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
    Alertmanager; agents export traces to ``stack.jaeger.otlp_http_url``.

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
    ) -> None:
        self.alertmanager = (
            Alertmanager(config_text=alertmanager_config_text) if alertmanager else None
        )
        self.jaeger = (
            Jaeger(binary=jaeger_binary, max_traces=jaeger_max_traces) if jaeger else None
        )
        self.prometheus = Prometheus(
            scrape_targets=scrape_targets,
            scrape_interval=scrape_interval,
            rule_files=rule_files,
            data_dir=prometheus_data_dir,
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
