"""The NAB benchmark's scorer, and score_series' NAB score on the shared labelled data."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _nab():
    spec = importlib.util.spec_from_file_location("nab_benchmark", ROOT / "benchmarks" / "nab.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


nab = _nab()
STANDARD = {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0}


def test_scaled_sigmoid_matches_nab_reference_values() -> None:
    got = nab.scaled_sigmoid(np.array([-1.0, -0.5, 0.0, 1.0, 3.0, 10.0]))
    np.testing.assert_allclose(got, [0.98661, 0.84828, 0.0, -0.98661, -1.0, -1.0], atol=1e-5)


def _file(n: int = 1000, windows: list[tuple[int, int]] | None = None):
    stamps = pd.date_range("2026-01-01", periods=n, freq="5min")
    return nab.DataFile("x.csv", stamps, np.zeros(n), windows or [(400, 499)])


def test_earliest_detection_in_a_window_earns_the_full_reward() -> None:
    f = _file()
    scores = np.zeros(1000)
    scores[400] = 1.0  # left edge of the window
    scores[450] = 1.0  # later in the same window: neither adds nor subtracts
    thresholds, totals = nab.corpus_score_by_threshold([f], [scores], STANDARD)
    assert totals[list(thresholds).index(1.0)] == pytest.approx(1.0)
    assert totals[0] == pytest.approx(-1.0)  # threshold above every score: one missed window


def test_false_positives_cost_more_the_further_from_a_window() -> None:
    f = _file()
    before, just_after, far_after = np.zeros(1000), np.zeros(1000), np.zeros(1000)
    before[300] = just_after[500] = far_after[900] = 1.0
    # probation is min(floor(0.15 * 1000), 750) = 150 rows; row 300 is scorable
    cost = [nab.corpus_score_by_threshold([f], [s], STANDARD)[1][1] + 1.0  # minus the FN
            for s in (before, just_after, far_after)]
    assert cost[0] == pytest.approx(-0.11)
    assert -0.11 < cost[1] < 0 and cost[1] > -0.01
    assert cost[2] == pytest.approx(-0.11)


def test_probationary_rows_are_ignored() -> None:
    f = _file(windows=[(400, 499)])
    scores = np.zeros(1000)
    scores[10] = 1.0
    thresholds, totals = nab.corpus_score_by_threshold([f], [scores], STANDARD)
    assert totals.max() == pytest.approx(-1.0)


def _data_dir() -> Path | None:
    path = nab.data_path(os.environ.get("AGENTINSIGHT_NAB_DATA"))
    return path if (path / "labels" / "combined_windows.json").exists() else None


def test_score_series_beats_the_target_on_shared_nab_data() -> None:
    root = _data_dir()
    if root is None:
        if os.environ.get("CI") == "true":
            pytest.fail("NAB data (../shared/nab) is missing in CI")
        pytest.skip("NAB data not found at ../shared/nab")
    from agentinsight.analysis.anomaly import score_series

    files = nab.load_corpus(root)
    scores, _ = nab.run_detector(files, score_series)
    result = nab.nab_scores(files, scores, nab.load_profiles(root))
    assert result["standard"]["score"] >= 65.0
    # what BENCHMARKS.md reports; a drop here is a regression of the detector. The in-sample
    # floor was 75.9 / 71.9 / 79.2: summing the records of one burst (``accumulate``) costs
    # 1.3 points in-sample and gains 3.7 held-out (test below), so it was lowered with it
    assert result["standard"]["score"] >= 74.6
    assert result["reward_low_FP_rate"]["score"] >= 69.4
    assert result["reward_low_FN_rate"]["score"] >= 78.4
    # in-sample figures flatter; what a user gets is the shipped threshold, never re-optimised
    fixed = nab.nab_scores_at(files, scores, nab.load_profiles(root), 0.5)
    assert fixed["standard"] >= 74.5 and fixed["reward_low_FP_rate"] >= 69.2
    assert fixed["reward_low_FN_rate"] >= 78.3


def test_score_series_beats_numenta_htm_on_categories_it_was_not_tuned_on() -> None:
    """Leave-one-category-out cross-validation (benchmarks/nab_cv.py): the robust view's weight
    and each profile's threshold chosen on three categories, the fourth scored at them. It read
    67.3 standard before bursts of records were summed; Numenta HTM's published score is 70.5."""
    root = _data_dir()
    if root is None:
        if os.environ.get("CI") == "true":
            pytest.fail("NAB data (../shared/nab) is missing in CI")
        pytest.skip("NAB data not found at ../shared/nab")
    from agentinsight.analysis._detectors.stream import day_period, stream_scores

    spec = importlib.util.spec_from_file_location("nab_cv", ROOT / "benchmarks" / "nab_cv.py")
    assert spec is not None and spec.loader is not None
    nab_cv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nab_cv)
    files = nab_cv.nab.load_corpus(root)
    profiles = nab_cv.nab.load_profiles(root)
    series = []
    for f in files:
        gaps = np.diff(f.timestamps[:21].as_unit("ns").asi8)
        gaps = gaps[gaps > 0]
        period = day_period(float(np.median(gaps)) / 1e9) if len(gaps) else 0
        series.append((pd.Series(f.values).ffill().bfill().to_numpy(), period))
    candidates = nab_cv.grid()
    scored = [[stream_scores(x, period, c) for x, period in series] for c in candidates]
    _, cv_raw, _, _ = nab_cv.cross_validate(files, profiles, scored, [str(c) for c in candidates],
                                            verbose=False)
    windows = sum(len(f.windows) for f in files)
    held_out = {p: nab_cv.normalise(cv_raw[p], windows, c) for p, c in profiles.items()}
    assert held_out["standard"] >= 70.9
    assert held_out["reward_low_FP_rate"] >= 65.8
    assert held_out["reward_low_FN_rate"] >= 73.9
