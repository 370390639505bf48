"""The parsed copy of a metrics file: identical samples, fresh only while the text is unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from agentinsight.formats.openmetrics import samples_cache_path
from agentinsight.simulate import simulate
from agentinsight.sources import FileSource


def _series(source: FileSource) -> dict:
    s = source.samples
    labels = s.labels.fillna("").astype(str).to_dict("records")
    return {tuple(sorted((k, v) for k, v in row.items() if v)):
            (s.t[s.offsets[i]:s.offsets[i + 1]], s.v[s.offsets[i]:s.offsets[i + 1]])
            for i, row in enumerate(labels)}


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=0.3, start="2026-11-02T08:00:00Z", seed=3)
    return out


def test_simulator_copy_equals_parsing_the_text(history):
    copy = samples_cache_path(history / "metrics.om")
    assert copy.is_file()
    from_copy = FileSource(history)
    expected_frame = from_copy.rate("agent_execution_total", by=["agent"])
    from_copy_series = _series(from_copy)
    copy.rename(copy.with_suffix(".bak"))
    try:
        parsed = FileSource(history)
        parsed_series = _series(parsed)
        assert parsed_series.keys() == from_copy_series.keys()
        for key, (t, v) in parsed_series.items():
            assert np.array_equal(t, from_copy_series[key][0]), key
            assert np.array_equal(v, from_copy_series[key][1], equal_nan=True), key
        assert parsed.rate("agent_execution_total", by=["agent"]).equals(expected_frame)
        assert copy.is_file(), "parsing writes the copy for next time"
    finally:
        copy.with_suffix(".bak").unlink(missing_ok=True)


def test_stale_copy_is_ignored(tmp_path):
    (tmp_path / "metrics.om").write_text(
        '# TYPE up gauge\nup{job="a"} 1 60\nup{job="a"} 1 120\n# EOF\n')
    assert FileSource(tmp_path).range('up{job="a"}')["value"].tolist() == [1.0, 1.0]
    assert samples_cache_path(tmp_path / "metrics.om").is_file()
    (tmp_path / "metrics.om").write_text(
        '# TYPE up gauge\nup{job="a"} 0 60\nup{job="a"} 0 120\nup{job="a"} 0 180\n# EOF\n')
    assert FileSource(tmp_path).range('up{job="a"}')["value"].tolist() == [0.0, 0.0, 0.0]


def test_corrupt_copy_falls_back_to_the_text(tmp_path):
    (tmp_path / "metrics.om").write_text('# TYPE up gauge\nup{job="a"} 1 60\n# EOF\n')
    assert len(FileSource(tmp_path).samples) == 1
    samples_cache_path(tmp_path / "metrics.om").write_bytes(b"not parquet")
    assert FileSource(tmp_path).range('up{job="a"}')["value"].tolist() == [1.0]
