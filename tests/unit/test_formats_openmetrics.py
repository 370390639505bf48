"""OpenMetrics text: what the writer spells, the parser reads back; numbers as Prometheus prints
them; bad lines named by file and line; the parsed copy is the same samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from prometheus_client.utils import floatToGoString

from agentinsight.exceptions import ParseError
from agentinsight.formats import openmetrics as om


@pytest.mark.parametrize("value", [0.0, 0.005, 0.25, 1.0, 2.5, 10.0, 123456.0, 1234567.0,
                                   10_000_000.0, 1e21, -3.5, -1e9, math.inf, -math.inf, math.nan])
def test_floats_are_spelled_as_prometheus_client_spells_them(value):
    assert om.format_float(value) == floatToGoString(value)


@pytest.mark.parametrize("value", ["plain", 'quote " me', "back\\slash", "new\nline", "é ü",
                                   "a,b=c}{", ""])
def test_a_series_key_reads_back_to_its_labels(value):
    key = om.series_key("tool_usage_total", [("tool", value), ("status", "success")])
    assert om.parse_series_key(key) == {"__name__": "tool_usage_total", "tool": value,
                                        "status": "success"}


def test_malformed_series_keys_are_refused():
    assert om.parse_series_key("up") == {"__name__": "up"}
    for key in ("1up", 'up{job=a}', 'up{job="a"', 'up{"job"="a"}'):
        assert om.parse_series_key(key) is None, key


def test_values_and_timestamps_are_formatted_a_column_at_a_time():
    assert [str(v) for v in om.format_values(np.array([3.0, -2.0]))] == ["3", "-2"]
    assert [str(v) for v in om.format_values(np.array([3.0, 0.1]))] == ["3.0", "0.1"]
    assert om.format_values(np.array([1.0, math.inf, math.nan])) == ["1.0", "+Inf", "NaN"]
    assert om.format_timestamps([60, 120.0]) == ["60", "120"]
    assert om.format_timestamps([60, 60.25]) == ["60.000", "60.250"]


def test_written_text_parses_back(tmp_path):
    path = tmp_path / "m.om"
    lines = [om.family_header("jobs", "counter", "Jobs\ndone.")]
    for t, v in ((60, 1.0), (120, 2.0)):
        lines.append(f'{om.series_key("jobs_total", [("queue", "a b")])} '
                     f'{om.format_values(np.array([v]))[0]} {t}\n')
    path.write_text("".join(lines) + om.EOF)
    samples, types = om.read_openmetrics([path])
    assert types == {"jobs": "counter"}
    assert samples.labels.to_dict("records") == [{"__name__": "jobs_total", "queue": "a b"}]
    assert samples.offsets.tolist() == [0, 2]
    assert samples.t.tolist() == [60_000, 120_000] and samples.v.tolist() == [1.0, 2.0]


def test_a_sample_without_timestamp_is_named_by_file_and_line(tmp_path):
    path = tmp_path / "m.om"
    path.write_text('# TYPE up gauge\nup{job="a"} 1 60\nup{job="a"} 1\n# EOF\n')
    with pytest.raises(ParseError, match="without a timestamp") as info:
        om.read_openmetrics([path])
    assert info.value.line == 3 and str(path) in str(info.value)


def test_the_parsed_copy_holds_the_same_samples_until_the_text_changes(tmp_path):
    path = tmp_path / "m.om"
    path.write_text('# TYPE up gauge\nup{job="a"} 1 60\nup{job="b"} 0 60\nup{job="a"} 2 120\n'
                    '# EOF\n')
    samples, types = om.read_openmetrics([path])
    assert om.read_samples_cache(path) is None
    assert om.write_samples_cache(path, samples, types) == om.samples_cache_path(path)
    copy = om.read_samples_cache(path)
    assert copy is not None
    assert copy[1] == types
    assert copy[0].labels.equals(samples.labels)
    for name in ("offsets", "t", "v"):
        assert np.array_equal(getattr(copy[0], name), getattr(samples, name)), name
    path.write_text('# TYPE up gauge\nup{job="a"} 5 60\n# EOF\n')
    assert om.read_samples_cache(path) is None
