"""Shared fixtures: real Prometheus, Alertmanager, VictoriaMetrics and Jaeger on loopback.

Servers come from :mod:`agentinsight.stack`. When a program is not installed the test is
skipped with the reason, except in CI (``CI=true``) where that is a failure. When a test that
used a server fails, the last lines of the server's log are added to the report.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

from agentinsight.stack import (
    Alertmanager,
    Jaeger,
    ProgramNotFoundError,
    Prometheus,
    ServerProcess,
    VictoriaMetrics,
    find_program,
)

IN_CI = os.environ.get("CI") == "true"

# Notebook sources used as fixtures are run by the report runner, never imported as modules.
collect_ignore_glob = ["data/*"]


def program_missing(reason: str) -> NoReturn:
    """Skip the test (fail it in CI) because a program it needs is not installed."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing server program is a failure)", pytrace=False)
    pytest.skip(reason)


def _require(name: str) -> str:
    try:
        return find_program(name)
    except ProgramNotFoundError as exc:
        program_missing(str(exc))


@pytest.fixture(scope="session")
def require_program() -> Callable[[str], str]:
    """``require_program("promtool")`` returns the program's path, or skips (fails in CI)."""
    return _require


def _start(server: ServerProcess) -> ServerProcess:
    try:
        return server.start()
    except ProgramNotFoundError as exc:
        program_missing(str(exc))


class _Factory:
    """Starts servers of one kind on demand; all of them are stopped at teardown."""

    def __init__(self, cls: type[ServerProcess]) -> None:
        self.cls = cls
        self.servers: list[ServerProcess] = []

    def __call__(self, **kwargs: Any) -> Any:
        server = self.cls(**kwargs)
        self.servers.append(server)
        return _start(server)

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def prometheus_factory() -> Iterator[Callable[..., Prometheus]]:
    """Call with ``Prometheus(...)`` keyword arguments; returns a started Prometheus."""
    factory = _Factory(Prometheus)
    yield factory
    factory.stop_all()


@pytest.fixture
def alertmanager_factory() -> Iterator[Callable[..., Alertmanager]]:
    """Call with ``Alertmanager(...)`` keyword arguments (e.g. ``config_text``)."""
    factory = _Factory(Alertmanager)
    yield factory
    factory.stop_all()


@pytest.fixture
def alertmanager(alertmanager_factory: Callable[..., Alertmanager]) -> Alertmanager:
    """A fresh Alertmanager with the default (null receiver) configuration."""
    return alertmanager_factory()


@pytest.fixture
def victoriametrics() -> Iterator[VictoriaMetrics]:
    """A fresh, empty VictoriaMetrics."""
    server = VictoriaMetrics()
    _start(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def jaeger() -> Iterator[Jaeger]:
    """One Jaeger for the session (in-memory storage): use a unique service name per test."""
    server = Jaeger()
    _start(server)
    yield server
    server.stop()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no other test uses (for Jaeger service names in the shared Jaeger)."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")


def _servers_of(item: pytest.Item) -> list[ServerProcess]:
    found: list[ServerProcess] = []
    values: list[Any] = []
    for value in getattr(item, "funcargs", {}).values():
        values.extend(value if isinstance(value, tuple | list) else [value])
    for value in values:
        if isinstance(value, ServerProcess):
            found.append(value)
        elif isinstance(value, _Factory):
            found.extend(value.servers)
        elif hasattr(value, "_servers") and callable(value._servers):  # agentinsight.stack.Stack
            found.extend(value._servers())
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        for server in _servers_of(item):
            tail = server.log_tail(30)
            if tail:
                report.sections.append((f"{server.name} log (last lines)", tail))
    return report
