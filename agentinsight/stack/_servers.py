"""Prometheus, Alertmanager and VictoriaMetrics behind :mod:`agentinsight.stack` (Jaeger is in
``_jaeger``). Import them from ``agentinsight.stack``."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from agentinsight.exceptions import ConfigurationError, StackError
from agentinsight.stack._process import (
    ServerProcess,
    free_port,
    http_request,
    json_or_error,
)

__all__ = ["Alertmanager", "PathLike", "Prometheus", "VictoriaMetrics"]
PathLike = str | os.PathLike[str]
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _seconds(duration: str, what: str) -> float:
    match = _DURATION.match(duration.strip())
    if not match:
        raise ConfigurationError(
            f"{what}: {duration!r} is not a duration like '1s', '500ms', '15s' or '1m'"
        )
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class _JSONAPI:
    name: str

    @property
    def url(self) -> str:
        """Base URL of the server's HTTP API."""
        raise NotImplementedError

    def api(self, path: str, **params: Any) -> Any:
        """GET ``url + path`` with query ``params`` and return the decoded JSON body.

        A non-200 answer raises ``StackError`` with the URL and the server's message.

        >>> prom.api("/api/v1/status/buildinfo")["data"]["version"]  # doctest: +SKIP
        '2.42.0+ds'
        """
        query = urllib.parse.urlencode(
            {k: v for k, v in params.items() if v is not None}, doseq=True
        )
        full = f"{self.url}{path}" + (f"?{query}" if query else "")
        status, body = http_request(full, timeout=30.0)
        return json_or_error(self.name, full, status, body)


class _OnePortAPI(_JSONAPI):
    """A server whose HTTP API is all it listens on: one port, chosen at each start.

    ``ports={"http": 9090}`` asks for a port; when it is taken a free one is used instead and
    ``port_fallbacks`` says so. Without it the port is a free one.
    """

    host: str
    port: int = 0
    _wanted_or: Callable[[str, Callable[[], int]], int]  # from ServerProcess

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    def _allocate_ports(self) -> None:
        self.port = self._wanted_or("http", lambda: free_port(self.host))


def _scrape_jobs(targets: Iterable[str]) -> list[dict[str, Any]]:
    """Turn 'host:port' or 'http://host:port/path' targets into scrape jobs (one per path)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for target in targets:
        if not isinstance(target, str) or not target:
            raise ConfigurationError(f"scrape_targets: {target!r} is not 'host:port' or a URL")
        parsed = urllib.parse.urlsplit(target if "//" in target else f"http://{target}")
        if not parsed.hostname or not parsed.port:
            raise ConfigurationError(
                f"scrape_targets: {target!r} needs a host and a port, e.g. '127.0.0.1:9464'"
            )
        key = (parsed.scheme, parsed.path or "/metrics")
        groups.setdefault(key, []).append(parsed.netloc)
    jobs = []
    for i, ((scheme, path), hosts) in enumerate(groups.items()):
        jobs.append({
            "job_name": "agents" if i == 0 else f"agents_{i + 1}",
            "scheme": scheme,
            "metrics_path": path,
            "static_configs": [{"targets": hosts}],
        })
    return jobs


class Prometheus(_OnePortAPI, ServerProcess):
    """A real Prometheus server on a free loopback port.

    ``scrape_targets`` are ``host:port`` strings (or URLs with a path), scraped every
    ``scrape_interval`` under job ``agents``; ``scrape_configs`` are extra Prometheus scrape
    configs (dicts). ``rule_files`` are rule file paths; ``alertmanager_url`` sends alerts there.
    ``config_text`` replaces the whole generated configuration. ``data_dir`` may hold blocks
    backfilled with ``promtool tsdb create-blocks-from openmetrics``; it is kept after ``stop()``
    (a temporary one is removed). Exemplar storage is on, so ``/api/v1/query_exemplars`` works.

    >>> prom = Prometheus(scrape_targets=["127.0.0.1:9464"], scrape_interval="1s")
    >>> prom.start().query("up")  # doctest: +SKIP
    [{'metric': {'__name__': 'up', ...}, 'value': [...]}]
    >>> prom.stop()  # doctest: +SKIP
    """

    name = "prometheus"
    program = "prometheus"

    def __init__(
        self,
        scrape_configs: Sequence[Mapping[str, Any]] | None = None,
        scrape_targets: Iterable[str] = (),
        scrape_interval: str = "1s",
        rule_files: Iterable[PathLike] = (),
        alertmanager_url: str | None = None,
        data_dir: PathLike | None = None,
        config_text: str | None = None,
        features: Sequence[str] = ("exemplar-storage",),
        retention: str = "3650d",
        **kwargs: Any,
    ) -> None:
        super().__init__(data_dir=data_dir, **kwargs)
        self.scrape_configs = list(scrape_configs or [])
        self.scrape_targets = list(scrape_targets)
        self.scrape_interval = scrape_interval
        self.rule_files = [str(Path(p).resolve()) for p in rule_files]
        self.alertmanager_url = alertmanager_url
        self.config_text = config_text
        self.features = tuple(features)
        self.retention = retention
        if config_text is None:
            self._config()  # bad arguments fail here, not in the server's log


    def _config(self) -> str:
        interval = _seconds(self.scrape_interval, "scrape_interval")
        global_cfg: dict[str, Any] = {
            "scrape_interval": self.scrape_interval,
            "evaluation_interval": self.scrape_interval,
        }
        if interval < 10:  # the default 10s timeout must not exceed the interval
            global_cfg["scrape_timeout"] = self.scrape_interval
        config: dict[str, Any] = {
            "global": global_cfg,
            "scrape_configs": _scrape_jobs(self.scrape_targets) + self.scrape_configs,
        }
        if self.rule_files:
            config["rule_files"] = self.rule_files
        if self.alertmanager_url:
            am = urllib.parse.urlsplit(self.alertmanager_url)
            if not am.hostname or not am.port:
                raise ConfigurationError(
                    f"alertmanager_url: {self.alertmanager_url!r} needs a scheme, host and port"
                )
            config["alerting"] = {"alertmanagers": [{
                "scheme": am.scheme or "http",
                "path_prefix": am.path or "/",
                "static_configs": [{"targets": [am.netloc]}],
            }]}
        return json.dumps(config, indent=2)

    def _command(self, binary: str) -> list[str]:
        assert self.work_dir is not None
        config = self.work_dir / "prometheus.yml"
        config.write_text(self.config_text if self.config_text is not None else self._config())
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address={self.host}:{self.port}",
            "--web.enable-lifecycle",
            "--web.enable-admin-api",
            # alerts fired before the Alertmanager was discovered (up to 5 s after start) are
            # otherwise re-sent only after the default 1 min
            f"--rules.alert.resend-delay={self.scrape_interval}",
            "--log.level=info",
        ]
        if self.features:
            argv.append(f"--enable-feature={','.join(self.features)}")
        return argv

    def _is_ready(self) -> bool:
        return self._http_ok(f"{self.url}/-/ready")

    def reload(
        self,
        *,
        scrape_targets: Iterable[str] | None = None,
        rule_files: Iterable[PathLike] | None = None,
        config_text: str | None = None,
    ) -> None:
        """Re-read the configuration (POST ``/-/reload``), after changing what is given.

        Rule files are re-read too. A configuration Prometheus rejects raises ``StackError``
        with Prometheus's own message. New scrape targets are picked up within about 5 s.

        >>> prom.reload(rule_files=["monitoring/alerts.rules.yml"])  # doctest: +SKIP
        """
        if scrape_targets is not None:
            self.scrape_targets = list(scrape_targets)
        if rule_files is not None:
            self.rule_files = [str(Path(p).resolve()) for p in rule_files]
        if config_text is not None:
            self.config_text = config_text
        if not self.running or self.work_dir is None:
            raise StackError("prometheus is not running; start() it first")
        text = self.config_text if self.config_text is not None else self._config()
        (self.work_dir / "prometheus.yml").write_text(text)
        log_before = len(self.log_text())
        status, body = http_request(f"{self.url}/-/reload", method="POST", timeout=30.0)
        if status != 200:
            # the HTTP answer is generic; the reason (file, line, parse error) is in the log
            errors = [line for line in self.log_text()[log_before:].splitlines()
                      if "level=error" in line]
            raise StackError(
                f"prometheus rejected the new configuration (HTTP {status}): "
                f"{body.decode(errors='replace').strip()}" + "".join(f"\n  {e}" for e in errors)
            )

    def query(self, expr: str, time: float | str | None = None) -> list[dict[str, Any]]:
        """Run an instant PromQL query; return ``data.result`` (a list of series).

        >>> prom.query("sum by (status) (agent_execution_total)")  # doctest: +SKIP
        [{'metric': {'status': 'success'}, 'value': [1795813731.2, '3']}, ...]
        """
        return list(self.api("/api/v1/query", query=expr, time=time)["data"]["result"])

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets with their ``health`` and ``lastError``."""
        return list(self.api("/api/v1/targets", state="active")["data"]["activeTargets"])

    def wait_for_scrapes(self, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until every target is up and has been scraped ``count`` more times.

        Prometheus applies new targets up to 5 s after a start or reload (its discovery
        throttle), so the first scrape comes that late whatever the interval. Raises
        ``StackError`` naming the targets that are down and their last error.

        >>> prom.wait_for_scrapes(2, timeout=30)  # doctest: +SKIP
        """
        deadline = time.monotonic() + timeout
        first: dict[str, str] = {}
        seen: dict[str, int] = {}
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            targets = self.targets()
            for t in targets:
                key = t["scrapeUrl"]
                if t["health"] == "up" and t["lastScrape"] != first.setdefault(key, ""):
                    first[key] = t["lastScrape"]
                    seen[key] = seen.get(key, 0) + 1
            if targets and all(seen.get(t["scrapeUrl"], 0) >= count for t in targets):
                return
            time.sleep(0.2)
        down = [f"{t['scrapeUrl']} ({t['health']}: {t.get('lastError') or 'not scraped yet'})"
                for t in targets if seen.get(t["scrapeUrl"], 0) < count]
        raise StackError(
            f"prometheus: targets not scraped {count} time(s) within {timeout:g}s: "
            f"{', '.join(down) or 'no target discovered yet'}"
        )


class Alertmanager(_OnePortAPI, ServerProcess):
    """A real Alertmanager on a free loopback port, with gossip (clustering) turned off.

    The default configuration routes every alert to a receiver named ``null`` that sends nothing,
    with a 1 s ``group_wait``; pass ``config_text`` (YAML) for real receivers.

    >>> with Alertmanager() as am:  # doctest: +SKIP
    ...     am.api("/api/v2/alerts")
    []
    """

    name = "alertmanager"
    program = "alertmanager"

    DEFAULT_CONFIG: dict[str, Any] = {
        "route": {
            "receiver": "null",
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "null"}],
    }

    def __init__(
        self, config_text: str | None = None, data_dir: PathLike | None = None, **kwargs: Any
    ) -> None:
        super().__init__(data_dir=data_dir, **kwargs)
        self.config_text = config_text


    def _config(self) -> str:
        if self.config_text is not None:
            return self.config_text
        return json.dumps(self.DEFAULT_CONFIG, indent=2)

    def _command(self, binary: str) -> list[str]:
        assert self.work_dir is not None
        config = self.work_dir / "alertmanager.yml"
        config.write_text(self._config())
        return [
            binary,
            f"--config.file={config}",
            f"--storage.path={self.data_dir}",
            f"--web.listen-address={self.host}:{self.port}",
            "--cluster.listen-address=",
        ]

    def _is_ready(self) -> bool:
        return self._http_ok(f"{self.url}/-/ready")

    def reload(self, config_text: str | None = None) -> None:
        """Re-read the configuration (POST ``/-/reload``), after replacing it if given.

        >>> am.reload(config_text=open("monitoring/alertmanager.yml").read())  # doctest: +SKIP
        """
        if config_text is not None:
            self.config_text = config_text
        if not self.running or self.work_dir is None:
            raise StackError("alertmanager is not running; start() it first")
        (self.work_dir / "alertmanager.yml").write_text(self._config())
        status, body = http_request(f"{self.url}/-/reload", method="POST", timeout=30.0)
        if status != 200:
            raise StackError(
                f"alertmanager rejected the new configuration (HTTP {status}): "
                f"{body.decode(errors='replace').strip()}"
            )


class VictoriaMetrics(_OnePortAPI, ServerProcess):
    """A real single-node VictoriaMetrics on a free loopback port (Prometheus-compatible API).

    Query-result caching is off and ``-search.latencyOffset`` is 0 s, so data written a moment
    ago (``/api/v1/import/prometheus``) is visible to the next query.

    >>> with VictoriaMetrics() as vm:  # doctest: +SKIP
    ...     vm.api("/api/v1/query", query="1")["status"]
    'success'
    """

    name = "victoriametrics"
    program = "victoria-metrics"

    def __init__(
        self, data_dir: PathLike | None = None, retention: str = "100y", **kwargs: Any
    ) -> None:
        super().__init__(data_dir=data_dir, **kwargs)
        self.retention = retention

    def _command(self, binary: str) -> list[str]:
        return [
            binary,
            f"-storageDataPath={self.data_dir}",
            f"-httpListenAddr={self.host}:{self.port}",
            f"-retentionPeriod={self.retention}",
            "-search.latencyOffset=0s",
            "-search.disableCache",
        ]

    def _is_ready(self) -> bool:
        return self._http_ok(f"{self.url}/health", lambda body: body.strip() == b"OK")

    def flush(self) -> None:
        """Make data written a moment ago searchable now (``/internal/force_flush``).

        Without it new samples show up within a few seconds, but a query made before then
        may keep answering "no data" for about 10 s.

        >>> vm.flush()  # doctest: +SKIP
        """
        status, body = http_request(f"{self.url}/internal/force_flush", timeout=30.0)
        json_or_error(self.name, f"{self.url}/internal/force_flush", status, b"null")
