"""Anomaly scoring on real-world telemetry shapes: duplicate and backward timestamps (a clock
change), missing times, NaN runs and irregular sampling are scored, never refused."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from agentinsight.analysis.anomaly import InsufficientDataWarning, detect, score_series
from agentinsight.frames import metrics_frame


def _series(n: int = 2000, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2026-03-28", periods=n, freq="5min", tz="UTC")
    daily = 10 * np.sin(2 * np.pi * np.arange(n) / 288)
    return pd.Series(50 + daily + rng.normal(0, 1, n), index=index)


def test_a_clock_that_steps_back_and_repeats_is_scored_in_arrival_order() -> None:
    s = _series()
    stamps = s.index.tz_localize(None).to_numpy().copy()
    stamps[1000:] -= np.timedelta64(1, "h")  # a clock change: 12 rows repeat an hour
    stamps[500] = stamps[499]  # and a duplicate
    s.index = pd.DatetimeIndex(stamps).tz_localize("UTC")
    s.iloc[1600] = 200.0
    scores = score_series(s)
    assert scores.index.equals(s.index)
    # rows keep their order: the same values with a clean index score the same
    clean = score_series(pd.Series(s.to_numpy(), index=_series().index))
    np.testing.assert_allclose(scores.to_numpy(), clean.to_numpy())
    assert scores.iloc[1600] > 0.99


def test_missing_times_and_a_reversed_index_are_not_errors() -> None:
    s = _series()
    with_nat = s.copy()
    with_nat.index = with_nat.index.insert(5, pd.NaT)[:-1]
    s.iloc[1500] = 200.0
    with_nat.iloc[1500] = 200.0
    assert score_series(with_nat).iloc[1500] > 0.99
    backwards = s.iloc[::-1]
    scores = score_series(backwards)  # a stream replayed newest first is still a stream
    assert scores.between(0, 1).all() and len(scores) == len(s)


def test_nan_runs_irregular_steps_and_short_series() -> None:
    rng = np.random.default_rng(1)
    steps = rng.choice([30, 60, 60, 60, 300], size=3000).cumsum()
    index = pd.to_datetime(1.7e9 + steps, unit="s", utc=True)
    values = 10 + rng.normal(0, 1, 3000)
    values[400:900] = np.nan
    values[2500] = 60.0
    scores = score_series(pd.Series(values, index=index))
    assert scores.iloc[400:900].max() == 0.0
    assert scores.iloc[2500] > 0.99
    for n in (0, 1, 2, 20):
        with pytest.warns(InsufficientDataWarning, match="every score is 0"):
            assert score_series(pd.Series(np.ones(n), dtype=float)).sum() == 0.0


def test_detect_takes_rows_in_any_order_with_duplicates() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    t = 1.7e9 + np.arange(n) * 60.0
    v = 20 + 5 * np.sin(2 * np.pi * np.arange(n) / 1440) + rng.normal(0, 0.5, n)
    v[2500:] += 15
    frame = metrics_frame(t, "agent_execution_rate", v, {"agent": ["a"] * n})
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsufficientDataWarning)
        clean = detect(frame)
        messy = detect(pd.concat([frame.iloc[::-1], frame.iloc[:300]], ignore_index=True))
    assert len(clean) >= 1
    assert messy[["start", "end", "detector"]].equals(clean[["start", "end", "detector"]])


@pytest.mark.parametrize("jitter", [False, True], ids=["on a grid", "off any grid"])
def test_detect_reads_shuffled_repeated_rows_read_in_chunks(monkeypatch, jitter: bool) -> None:
    from agentinsight.analysis._detectors import wide

    rng = np.random.default_rng(5)
    n, agents = 3000, ["a", "b", None]  # a missing label value is a series of its own
    t = 1.7e9 + np.arange(n) * 60.0 + (rng.uniform(0, 1e-3, n) if jitter else 0.0)
    parts = []
    for k, agent in enumerate(agents):
        v = 20 + 5 * np.sin(2 * np.pi * np.arange(n) / 1440) + rng.normal(0, 0.5, n)
        v[2500 - 300 * k:] += 15
        parts.append(metrics_frame(t, "agent_execution_rate", v, {"agent": [agent] * n}))
    clean = pd.concat(parts, ignore_index=True)
    clean["agent"] = clean["agent"].astype("category")
    # wrong values first, then every row again in random order: the last value of a
    # (series, time) counts, also when its repeats fall in different chunks of rows
    wrong = clean.sample(2000, random_state=1).assign(value=1e6)
    messy = pd.concat([wrong, clean.sample(frac=1.0, random_state=2)], ignore_index=True)
    monkeypatch.setattr(wide, "_CHUNK_ROWS", 997)
    expected = detect(clean)
    assert len({str(s) for s in expected["series"]}) == 3
    pd.testing.assert_frame_equal(detect(messy), expected)
