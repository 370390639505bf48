"""The MetricsSource protocol: both metrics sources satisfy it, and it cannot drift from them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from agentinsight.sources import (
    ExemplarSource,
    FileSource,
    Fleet,
    MetricsSource,
    PrometheusSource,
    connect,
)

IMPLEMENTATIONS = [FileSource, PrometheusSource]


def _methods(protocol: type) -> dict[str, Callable[..., Any]]:
    """The methods a protocol class itself declares."""
    return {name: value for name, value in vars(protocol).items()
            if inspect.isfunction(value) and not name.startswith("_")}


def _annotation(value: Any) -> str:
    return value if isinstance(value, str) else inspect.formatannotation(value)


def _mismatches(declared: Callable[..., Any], implemented: Callable[..., Any]) -> list[str]:
    """How an implementation's signature departs from the protocol's (empty: it matches).

    The protocol's parameters come first, in order, with the same name (a positional-only one
    may have any name), kind, annotation (or a wider union) and default; a default written
    ``...`` is source-specific and only has to exist. Extra parameters must be optional.
    """
    want = list(inspect.signature(declared).parameters.values())[1:]
    have = list(inspect.signature(implemented).parameters.values())[1:]
    problems = []
    if len(have) < len(want):
        return [f"takes {len(have)} parameters, the protocol {len(want)}"]
    for p, i in zip(want, have, strict=False):
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            if i.kind not in (p.kind, inspect.Parameter.POSITIONAL_OR_KEYWORD):
                problems.append(f"{i.name}: cannot be passed by position")
        elif (i.name, i.kind) != (p.name, p.kind):
            problems.append(f"{i.name} ({i.kind}) where the protocol has {p.name} ({p.kind})")
        wanted = set(_annotation(p.annotation).split(" | "))
        if not wanted <= set(_annotation(i.annotation).split(" | ")):
            problems.append(f"{i.name}: {_annotation(i.annotation)} does not accept "
                            f"{_annotation(p.annotation)}")
        if (p.default is p.empty) != (i.default is i.empty):
            problems.append(f"{i.name}: optional in one and required in the other")
        elif p.default is not Ellipsis and p.default != i.default:
            problems.append(f"{i.name}: default {i.default!r}, protocol {p.default!r}")
    for extra in have[len(want):]:
        if extra.default is extra.empty and extra.kind not in (
                inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            problems.append(f"{extra.name}: required, but not in the protocol")
    returned = (_annotation(inspect.signature(declared).return_annotation),
                _annotation(inspect.signature(implemented).return_annotation))
    if returned[0] != returned[1]:
        problems.append(f"returns {returned[1]}, protocol {returned[0]}")
    return problems


@pytest.fixture
def instances(tmp_path) -> dict[type, Any]:
    return {FileSource: FileSource(tmp_path), PrometheusSource: PrometheusSource(
        "http://127.0.0.1:9")}


def test_both_metrics_sources_are_metrics_sources(instances):
    for source in instances.values():
        assert isinstance(source, MetricsSource)
    assert isinstance(instances[PrometheusSource], ExemplarSource)
    assert not isinstance(instances[FileSource], ExemplarSource)


def test_the_isinstance_check_reads_no_data(tmp_path):
    # a FileSource on a missing folder raises on first read; the check must not read
    assert isinstance(FileSource(tmp_path / "missing"), MetricsSource)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", sorted(_methods(MetricsSource)))
def test_each_protocol_method_matches_the_implementation(implementation, name):
    assert name in vars(implementation), f"{implementation.__name__} does not define {name}"
    declared = getattr(MetricsSource, name)
    assert _mismatches(declared, getattr(implementation, name)) == []


@pytest.mark.parametrize("name", sorted(_methods(ExemplarSource)))
def test_exemplars_match_the_prometheus_source(name):
    assert name in vars(PrometheusSource)
    assert _mismatches(getattr(ExemplarSource, name), getattr(PrometheusSource, name)) == []


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_scrape_interval_is_a_property_in_seconds(implementation):
    prop = vars(implementation)["scrape_interval"]
    assert isinstance(prop, property)
    assert _annotation(inspect.signature(prop.fget).return_annotation) == "float"


def test_the_signature_check_catches_drift():
    class Renamed:
        def rate(self, name: str, by: Any = (), start: Any = None, end: Any = None,
                 step: Any = None, window: Any = "5m", matchers: Any = None) -> Any:
            raise NotImplementedError

    class NewDefault:
        def error_ratio(self, metric: str = "agent_execution_total",
                        by: str | None = ("agent",), start: Any = None, end: Any = None,
                        step: Any = None, window: Any = "1m", matchers: Any = None,
                        error: str = 'status="error"', extra: int = 0) -> str:
            raise NotImplementedError

    class Required:
        def label_values(self, label: str, match: str) -> list[str]:
            raise NotImplementedError

    assert _mismatches(MetricsSource.rate, Renamed.rate)
    problems = _mismatches(MetricsSource.error_ratio, NewDefault.error_ratio)
    assert any("window" in p for p in problems)
    assert any("by:" in p for p in problems)  # narrower annotation
    assert any("returns" in p for p in problems)
    assert _mismatches(MetricsSource.label_values, Required.label_values)


def test_a_fleet_offers_every_protocol_method_as_its_sources_own(instances):
    for source in instances.values():
        fleet = Fleet(source)
        assert isinstance(fleet, MetricsSource)
        for name in _methods(MetricsSource):
            assert getattr(fleet, name) == getattr(source, name)
    files = Fleet(instances[FileSource])
    assert not hasattr(files, "exemplars")
    assert files.exemplar_frame("up", "now-1h", "now") is None
    prom = Fleet(instances[PrometheusSource])
    assert prom.exemplars == prom.metrics.exemplars


def test_fleet_scrape_interval_is_the_sources(tmp_path):
    fleet = connect(tmp_path, scrape_interval="30s")
    assert fleet.scrape_interval == 30.0
