"""Jaeger v2 behind :mod:`agentinsight.stack`. Import it from ``agentinsight.stack``."""

from __future__ import annotations

import json
from typing import Any

from agentinsight.exceptions import ConfigurationError
from agentinsight.stack._process import ServerProcess, _port_open, free_port
from agentinsight.stack._servers import _JSONAPI

__all__ = ["Jaeger"]

_JAEGER_TOKENS = ("otlp_http_port", "otlp_grpc_port", "query_port", "query_grpc_port",
                  "health_port")


class Jaeger(_JSONAPI, ServerProcess):
    """A real Jaeger v2 (all-in-one, in-memory storage) on loopback ports (free ones by default).

    Only the OTLP receivers (HTTP and gRPC), the query service (``/api/v3/...``) and the health
    check listen, each on its own free port; storage keeps the newest ``max_traces`` traces in
    memory; Jaeger's own telemetry is off, so nothing binds a fixed port of its own. ``ports``
    asks for ports by role (``query``, ``query_grpc``, ``otlp_http``, ``otlp_grpc``, ``health``);
    a taken one is replaced by a free port and noted in ``port_fallbacks``. ``config_text``
    replaces the generated YAML; the tokens ``{otlp_http_port}``, ``{otlp_grpc_port}``,
    ``{query_port}``, ``{query_grpc_port}`` and ``{health_port}`` in it are replaced by the
    chosen ports.

    >>> with Jaeger() as jaeger:  # doctest: +SKIP
    ...     jaeger.otlp_traces_url, jaeger.api("/api/v3/services")
    ('http://127.0.0.1:40127/v1/traces', {})
    """

    name = "jaeger"
    program = "jaeger"
    uses_data_dir = False

    def __init__(
        self, binary: str | None = None, config_text: str | None = None,
        max_traces: int = 100_000, **kwargs: Any
    ) -> None:
        super().__init__(binary=binary, **kwargs)
        self.config_text = config_text
        if isinstance(max_traces, bool) or not isinstance(max_traces, int) or max_traces < 1:
            raise ConfigurationError(f"Jaeger(max_traces={max_traces!r}): expected an int >= 1")
        self.max_traces = max_traces
        self.ports: dict[str, int] = dict.fromkeys(_JAEGER_TOKENS, 0)

    @property
    def query_url(self) -> str:
        """Query service base URL (``/api/v3/services``, ``/api/v3/traces``, ``/api/traces``)."""
        return f"http://{self.host}:{self.ports['query_port']}"

    url = query_url

    @property
    def otlp_http_url(self) -> str:
        """OTLP/HTTP base URL (what ``OTEL_EXPORTER_OTLP_ENDPOINT`` takes)."""
        return f"http://{self.host}:{self.ports['otlp_http_port']}"

    @property
    def otlp_traces_url(self) -> str:
        """Full OTLP/HTTP traces URL (what an ``OTLPSpanExporter(endpoint=...)`` takes)."""
        return f"{self.otlp_http_url}/v1/traces"

    @property
    def otlp_grpc_port(self) -> int:
        """Port of the OTLP/gRPC receiver on 127.0.0.1."""
        return self.ports["otlp_grpc_port"]

    def _allocate_ports(self) -> None:
        chosen: set[int] = set()

        def pick_free() -> int:
            port = free_port(self.host)
            while port in chosen:
                port = free_port(self.host)
            return port

        for token in _JAEGER_TOKENS:
            port = self._wanted_or(token.removesuffix("_port"), pick_free)
            if port in chosen:  # two roles asked for the same port
                port = pick_free()
            chosen.add(port)
            self.ports[token] = port

    def _config(self) -> str:
        if self.config_text is not None:
            text = self.config_text
            for token, port in self.ports.items():
                text = text.replace("{" + token + "}", str(port))
            return text
        h, p = self.host, self.ports
        config = {
            "service": {
                "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
                "pipelines": {"traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }},
                "telemetry": {
                    "resource": {"service.name": "jaeger"},
                    "metrics": {"level": "none"},  # no fixed :8888 Prometheus endpoint
                    "traces": {"level": "none"},
                    "logs": {"level": "info"},
                },
            },
            "extensions": {
                "healthcheckv2": {"use_v2": True, "http": {"endpoint": f"{h}:{p['health_port']}"}},
                "jaeger_query": {
                    # on by default in v2: it exports Jaeger's own spans to localhost:4317 and
                    # makes shutdown wait 10 s for that export to time out
                    "enable_tracing": False,
                    "storage": {"traces": "memstore"},
                    "http": {"endpoint": f"{h}:{p['query_port']}"},
                    "grpc": {"endpoint": f"{h}:{p['query_grpc_port']}"},
                },
                "jaeger_storage": {"backends": {"memstore": {"memory": {
                    "max_traces": self.max_traces}}}},
            },
            "receivers": {"otlp": {"protocols": {
                "grpc": {"endpoint": f"{h}:{p['otlp_grpc_port']}"},
                "http": {"endpoint": f"{h}:{p['otlp_http_port']}"},
            }}},
            "processors": {"batch": {"timeout": "100ms"}},
            "exporters": {"jaeger_storage_exporter": {"trace_storage": "memstore"}},
        }
        return json.dumps(config, indent=2)

    def _command(self, binary: str) -> list[str]:
        assert self.work_dir is not None
        config = self.work_dir / "jaeger.yaml"
        config.write_text(self._config())
        return [binary, "--config", str(config)]

    def _is_ready(self) -> bool:
        # the query service starts before the receivers: wait for the OTLP port as well
        return self._http_ok(f"{self.query_url}/api/v3/services") and _port_open(
            self.host, self.ports["otlp_http_port"]
        )
