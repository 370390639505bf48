"""NAB score of ``score_series`` measured on data it was not tuned on.

Three figures, each labelled for what it is:

* **in-sample**: the parameter set and the threshold (one per profile) that score best on all 34
  files, scored on those same 34 files (NAB's published rule, and an optimistic figure);
* **leave-one-category-out cross-validation**: for each of the four categories in shared/nab,
  the parameter set (from the grid) and one threshold per profile are chosen on the other three
  categories (NAB's threshold rule applied inside the fold), then the held-out category is scored
  at that threshold. The four held-out raw scores are summed and normalised over all 50 windows,
  so the figure is comparable with the in-sample one, but no file was scored by a detector whose
  grid choice or threshold was fitted on it. (The views themselves and the grid were designed
  with all 34 files in view; no NAB data outside them was available to guard against that.)
  A second line gives the same folds with the shipped parameters fixed, only the threshold
  chosen inside each fold;
* **fixed-threshold**: the shipped ``score_series`` at its shipped threshold (0.5), no
  re-optimisation, on all 34 files, i.e. what a user gets out of the box. The shipped threshold
  was taken from the training folds' thresholds (their median), so this figure is not held-out.

It also cross-validates, the same way, the scorer without ``accumulate`` (each record scored on
its own excess: the previous scorer), the grid with ``accumulate`` on and off (so the folds choose
that too), and one alternative: an HTM-likelihood-style calibration that divides each excess by
the series' own typical past excess (three offsets as its grid).

The default grid is the robust view's weight (0, 0.01, 0.02, 0.05) with everything else as
shipped: few parameters, so the folds have little to over-fit. ``--full-grid`` crosses it with
the older views' weights and look-backs (144 sets). Per-file scores are cached in
``data/nab-scores/`` (git-ignored) keyed by the parameter set, so re-running only repeats the
cheap threshold sweeps.

With ``--shape`` it also runs the fully nested cross-validation with a shape-novelty view of our
own as a further view: ``shape_novelty``, a left matrix profile over the series cut into hourly
steps (after Yeh et al. and Zhu et al., "Matrix Profile I/II", ICDM 2016) with three bars, or
``art_novelty``, fuzzy ART category novelty over the same windows (Carpenter, Grossberg and
Rosen 1991), both written from the papers. The folds choose whether a further view is used and
which, how it combines with the scorer (max or mean), summing on/off, the robust weight and the
threshold.

    python benchmarks/nab_cv.py [--data PATH] [--fresh] [--full-grid] [--shape]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nab  # noqa: E402  (the scorer: benchmarks/nab.py)

from agentinsight.analysis._detectors.stream import (  # noqa: E402
    DEFAULT,
    StreamParams,
    _running_max,
    raw_excess,
    rows_per_day,
    stream_scores,
)

CACHE = nab.REPO_ROOT / "data" / "nab-scores"

#: The published full-corpus scoreboard (58 files; SCORING.md section 9) and the same detectors
#: re-scored on these 34 files with a threshold optimised on them (section 10).
PUBLISHED_FULL = {"ARTime": (74.9, 65.1, 80.4), "Numenta HTM": (70.5, 62.6, 75.2),
                  "CAD OSE": (69.9, 67.0, 73.2)}
PUBLISHED_34 = {"ARTime": (71.1, 62.4, 76.0), "Numenta HTM": (73.6, 68.4, 77.0),
                "CAD OSE": (71.7, 68.1, 75.1)}


#: The weights of the robust view the grids try (0 switches it off).
ROBUST_WEIGHTS = (0.0, 0.01, 0.02, 0.05)


def grid(full: bool = False) -> list[StreamParams]:
    """The candidate parameter sets: the robust view's weight, the rest as shipped; with
    ``full``, also small variations of the older views' weights and look-backs."""
    if not full:
        return [replace(DEFAULT, robust_weight=w) for w in ROBUST_WEIGHTS]
    out = []
    for mean_w, seas_w, days, suppress, robust_w in itertools.product(
            (0.25, 0.35, 0.5), (0.2, 0.35, 0.5), (1, 3), (50, 150), ROBUST_WEIGHTS):
        out.append(replace(DEFAULT, mean_weight=mean_w, seasonal_weight=seas_w,
                           seasonal_days=days, suppress=suppress, robust_weight=robust_w))
    if DEFAULT not in out:
        out.append(DEFAULT)
    return out


def _key(params: StreamParams) -> str:
    text = json.dumps(asdict(params), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def series_of(file: nab.DataFile) -> tuple[np.ndarray, int]:
    """A file's values as ``score_series`` sees them (NaN forward-filled) and its rows per day
    (from the first positive gaps)."""
    return pd.Series(file.values).ffill().bfill().to_numpy(), rows_per_day(file.timestamps)


def file_scores(files: list[nab.DataFile], params: StreamParams, fresh: bool = False
                ) -> list[np.ndarray]:
    """Per-file scores for one parameter set, computed once and cached on disk.

    Mirrors ``score_series``: NaN forward-filled, rows per day from the first positive gaps.
    """
    path = CACHE / f"{_key(params)}.npz"
    if path.exists() and not fresh:
        with np.load(path) as data:
            return [data[f"f{i}"] for i in range(len(files))]
    out = []
    for file in files:
        values, period = series_of(file)
        out.append(stream_scores(values, period, params))
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{f"f{i}": s for i, s in enumerate(out)})
    return out


def raw_at(files: list[nab.DataFile], scores: list[np.ndarray], cost: dict[str, float],
           threshold: float) -> float:
    """Raw NAB score S of some files at a fixed threshold."""
    thresholds, totals = nab.corpus_score_by_threshold(files, scores, cost)
    at = np.nonzero(thresholds >= threshold)[0]
    return float(totals[at[-1]]) if len(at) else float(totals[0])


def best(files: list[nab.DataFile], scores: list[np.ndarray], cost: dict[str, float]
         ) -> tuple[float, float]:
    """(best raw score, its threshold) over every candidate threshold (NAB's rule)."""
    thresholds, totals = nab.corpus_score_by_threshold(files, scores, cost)
    i = int(np.argmax(totals))
    return float(totals[i]), float(thresholds[i])


def normalise(raw: float, windows: int, cost: dict[str, float]) -> float:
    null = -cost["fnWeight"] * windows
    return 100.0 * (raw - null) / (cost["tpWeight"] * windows - null)


def relative_scores(files: list[nab.DataFile], offset: float) -> list[np.ndarray]:
    """The likelihood-style alternative: each reported excess divided by ``offset`` plus the
    mean of the series' own earlier non-zero excesses (a series that often sets small records
    needs a bigger one to alarm)."""
    out = []
    for file in files:
        values, period = series_of(file)
        raw = raw_excess(values, period, DEFAULT)
        reported = np.where(raw > _running_max(raw, DEFAULT.suppress), raw, 0.0)
        count = np.r_[0.0, np.cumsum(raw > 0)[:-1]]
        past = np.r_[0.0, np.cumsum(raw)[:-1]] / np.maximum(count, 1.0)
        out.append(1.0 - np.exp(-reported / (offset + past)))
    return out


def cross_validate(files: list[nab.DataFile], profiles: dict[str, dict[str, float]],
                   scored: list[list[np.ndarray]], labels: list[str], verbose: bool = True,
                   inner: bool = False
                   ) -> tuple[dict[str, tuple[float, float]], dict[str, float], int,
                              dict[str, list[float]]]:
    """In-sample best (raw, threshold) per profile, leave-one-category-out raw per profile, the
    in-sample candidate and each profile's training-fold thresholds.

    Each fold chooses its candidate by the best standard score on its training categories, or,
    with ``inner``, by the best leave-one-category-out score *within* them (nested
    cross-validation: the candidate that generalises best from two categories to the third,
    the threshold then chosen on all three)."""
    categories = sorted({f.name.split("/")[0] for f in files})
    std = profiles["standard"]

    def subset(k: int, names: set[str]) -> tuple[list[nab.DataFile], list[np.ndarray]]:
        pick = [i for i, f in enumerate(files) if f.name.split("/")[0] in names]
        return [files[i] for i in pick], [scored[k][i] for i in pick]

    in_k = max(range(len(scored)), key=lambda k: best(files, scored[k], std)[0])
    in_sample = {p: best(files, scored[in_k], c) for p, c in profiles.items()}
    cv_raw = dict.fromkeys(profiles, 0.0)
    thresholds: dict[str, list[float]] = {p: [] for p in profiles}
    for held in categories:
        train = set(categories) - {held}
        # the candidate is chosen on the standard profile, each profile's threshold on its own
        if inner:
            pick = [i for i, f in enumerate(files) if f.name.split("/")[0] in train]
            inner_raw = [cross_validate([files[i] for i in pick], {"standard": std},
                                        [[s[i] for i in pick]], labels[k:k + 1],
                                        verbose=False)[1]["standard"]
                         for k, s in enumerate(scored)]
            k = int(np.argmax(inner_raw))
        else:
            k = max(range(len(scored)), key=lambda k: best(*subset(k, train), std)[0])
        test_files, test_scores = subset(k, {held})
        raws = []
        for p, cost in profiles.items():
            _, thr = best(*subset(k, train), cost)
            thresholds[p].append(thr)
            raws.append(raw_at(test_files, test_scores, cost, thr))
            cv_raw[p] += raws[-1]
        if verbose:
            print(f"  held out {held:22s} chose {labels[k]:38s} standard threshold "
                  f"{thresholds['standard'][-1]:.4f}; held-out raw "
                  + " / ".join(f"{r:.2f}" for r in raws))
    return in_sample, cv_raw, in_k, thresholds


def why_off(files: list[nab.DataFile], profiles: dict[str, dict[str, float]],
            summed: list[list[np.ndarray]], single: list[list[np.ndarray]],
            labels: list[str]) -> None:
    """Per fold, the best training-category raw score (standard) with summing on and off."""
    std = profiles["standard"]
    categories = sorted({f.name.split("/")[0] for f in files})
    print("summing on / off on the training categories of each fold (standard raw, best grid "
          "point each; normalised over the training windows):")
    for held in categories:
        pick = [i for i, f in enumerate(files) if f.name.split("/")[0] != held]
        train = [files[i] for i in pick]
        n = sum(len(f.windows) for f in train)
        on = [best(train, [s[i] for i in pick], std) for s in summed]
        off = [best(train, [s[i] for i in pick], std) for s in single]
        k_on = max(range(len(on)), key=lambda k: on[k][0])
        k_off = max(range(len(off)), key=lambda k: off[k][0])
        print(f"  held out {held:22s} on {on[k_on][0]:7.3f} ({normalise(on[k_on][0], n, std):.1f},"
              f" thr {on[k_on][1]:.3f}, {labels[k_on]}) off {off[k_off][0]:7.3f} "
              f"({normalise(off[k_off][0], n, std):.1f}, thr {off[k_off][1]:.3f})")


#: The shape-novelty view's fixed design: steps per day and window length in steps (chosen
#: before it was scored), and the days of history before it may score (the bar set by the second
#: day, after a first run in which the first day's novelty silenced every file).
SHAPE_STEPS_PER_DAY = 24
SHAPE_WINDOW = 8
SHAPE_WARMUP_DAYS = 1
#: Novelty below this fraction of the range never sets the bar (exact repeats score no record).
SHAPE_FLOOR = 0.01
#: The bars a window's novelty must beat, in the order they were designed (each after the one
#: before had been scored): every earlier window's novelty ("record"); the previous day's
#: windows' ("day"); every earlier window's that stayed inside the range before it ("in-range":
#: a window that breaks the range is the range views' business and does not raise the bar).
SHAPE_BARS = ("record", "day", "in-range")


def _step_windows(x: np.ndarray, period: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray,
                                                        np.ndarray, np.ndarray] | None:
    """The series cut into ``SHAPE_STEPS_PER_DAY`` steps per day, each kept as its minimum and
    maximum, and into windows of ``SHAPE_WINDOW`` steps (window t covers steps t .. t + m - 1):
    (rows per step, step features, windows, each window's last step, the range's top and
    bottom up to it); None without a daily period or with too few steps."""
    if not period:
        return None
    step = max(1, period // SHAPE_STEPS_PER_DAY)
    steps = x.shape[0] // step
    m = SHAPE_WINDOW
    if steps < 2 * m + 1:
        return None
    blocks = x[: steps * step].reshape(steps, step)
    feats = np.concatenate([blocks.min(axis=1)[:, None], blocks.max(axis=1)[:, None]], axis=1)
    idx = np.arange(steps - m + 1)[:, None] + np.arange(m)[None, :]
    win = feats[idx].reshape(len(idx), -1)
    ends = np.arange(len(win)) + m - 1
    hi = np.maximum.accumulate(feats[:, 1])[ends]
    lo = np.minimum.accumulate(feats[:, 0])[ends]
    return step, feats, win, ends, hi, lo


def shape_novelty(x: np.ndarray, period: int, bar_rule: str = "record") -> np.ndarray:
    """A left-matrix-profile (time-series discord) novelty score per row, in [0, 1).

    The series is cut into ``SHAPE_STEPS_PER_DAY`` steps per day (each step kept as its minimum
    and maximum, so a one-point blip survives); each run of ``SHAPE_WINDOW`` steps is compared
    with every earlier, non-overlapping run (Euclidean distance, in units of the series' range
    so far): the distance to the nearest one is the window's novelty (Yeh et al., "Matrix
    Profile I", ICDM 2016; Zhu et al., "Matrix Profile II", ICDM 2016, for the left profile).
    A window whose novelty beats the bar (``SHAPE_BARS``) by a ratio r > 1 scores 1 - 1/r at
    the last row of its last step; every other row scores 0. Series without a daily period
    (``period`` 0) score 0 throughout.
    """
    out = np.zeros(x.shape[0])
    cut = _step_windows(x, period)
    if cut is None:
        return out
    step, feats, win, ends, hi, lo = cut
    m = SHAPE_WINDOW
    sq = (win * win).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * win @ win.T
    # only earlier windows that end before window t starts
    t_i, j_i = np.indices(d2.shape)
    d2[j_i > t_i - m] = np.inf
    near = np.sqrt(np.clip(d2.min(axis=1), 0.0, None))
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        nov = np.where(span > 0, near / (np.sqrt(2 * m) * span), 0.0)
    nov[~np.isfinite(nov)] = 0.0
    # The first day's windows are all novel (nothing to repeat yet): they set no bar. The next
    # day's windows set the bar and score nothing; from then on a record of novelty scores.
    day = SHAPE_WARMUP_DAYS * SHAPE_STEPS_PER_DAY
    nov[: day + m] = 0.0
    if bar_rule == "day":
        bar = _running_max(nov, day)
    elif bar_rule == "in-range":
        prev_hi = np.r_[-np.inf, np.maximum.accumulate(feats[:, 1])[:-1]][: len(win)]
        prev_lo = np.r_[np.inf, np.minimum.accumulate(feats[:, 0])[:-1]][: len(win)]
        inside = (win[:, 1::2].max(axis=1) <= prev_hi) & (win[:, 0::2].min(axis=1) >= prev_lo)
        bar = np.r_[0.0, np.maximum.accumulate(np.where(inside, nov, 0.0))[:-1]]
    else:
        bar = np.r_[0.0, np.maximum.accumulate(nov)[:-1]]
    bar = np.maximum(bar, SHAPE_FLOOR)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(nov > bar, 1.0 - bar / nov, 0.0)
    score[: 2 * day + m] = 0.0
    out[(ends + 1) * step - 1] = score
    return out


def shape_scores(files: list[nab.DataFile], bar_rule: str = "record") -> list[np.ndarray]:
    """The shape-novelty view's per-file scores (cheap: not cached)."""
    out = []
    for file in files:
        values, period = series_of(file)
        out.append(shape_novelty(values, period, bar_rule))
    return out


#: The fuzzy ART view's fixed design (Carpenter, Grossberg and Rosen 1991, fast learning, the
#: choice parameter small as the paper suggests); chosen before it was scored, after the
#: matrix-profile bars had been. Same steps and windows as ``shape_novelty``.
ART_VIGILANCE = 0.9
ART_CHOICE = 0.001


def art_novelty(x: np.ndarray, period: int) -> np.ndarray:
    """Fuzzy ART category novelty per row, in [0, 1), written from Carpenter, Grossberg and
    Rosen, "Fuzzy ART: fast stable learning and categorization of analog patterns by an
    adaptive resonance system", Neural Networks 4, 1991.

    Each window of ``SHAPE_WINDOW`` hourly steps (each step's minimum and maximum) is scaled
    to [0, 1] by the series' range so far and complement-coded (I = (a, 1 - a)). The category
    with the largest choice |I ^ w| / (alpha + |w|) among those whose match |I ^ w| / |I|
    reaches the vigilance learns the window (fast learning: w <- I ^ w); when none does, the
    window founds a new category and, after two days of warm-up, scores its mismatch to the
    nearest category, 1 - max match, at the last row of its last step. Series without a daily
    period score 0 throughout.
    """
    out = np.zeros(x.shape[0])
    cut = _step_windows(x, period)
    if cut is None:
        return out
    step, _, win, ends, hi, lo = cut
    m = SHAPE_WINDOW
    span = np.where(hi > lo, hi - lo, 1.0)
    a = np.clip((win - lo[:, None]) / span[:, None], 0.0, 1.0)
    coded = np.concatenate([a, 1.0 - a], axis=1)
    size = float(coded.shape[1] // 2)  # |I| under complement coding
    warm = 2 * SHAPE_WARMUP_DAYS * SHAPE_STEPS_PER_DAY + m
    weights = coded[:1].copy()
    for t in range(1, len(coded)):
        inp = coded[t]
        overlap = np.minimum(weights, inp).sum(axis=1)
        match = overlap / size
        ok = match >= ART_VIGILANCE
        if ok.any():
            choice = np.where(ok, overlap / (ART_CHOICE + weights.sum(axis=1)), -np.inf)
            j = int(np.argmax(choice))
            weights[j] = np.minimum(weights[j], inp)
        else:
            weights = np.vstack([weights, inp])
            if t >= warm:
                out[(ends[t] + 1) * step - 1] = 1.0 - float(match.max())
    return out


def art_scores(files: list[nab.DataFile]) -> list[np.ndarray]:
    """The fuzzy ART view's per-file scores."""
    out = []
    for file in files:
        values, period = series_of(file)
        out.append(art_novelty(values, period))
    return out


#: The two ways of combining our scorer with a further view, both fixed before either was scored.
RULES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "max": np.maximum,
    "mean": lambda a, b: 0.5 * (a + b),
}


def nested_with_shape(files: list[nab.DataFile], profiles: dict[str, dict[str, float]],
                      summed: list[list[np.ndarray]], single: list[list[np.ndarray]],
                      labels: list[str], norm: Callable[[dict[str, float]], str],
                      shipped_k: int) -> None:
    """The fully nested CV with the shape-novelty view as a further view: whether it is used,
    the rule (max / mean), summing on/off, the robust weight and the threshold, all chosen in
    the folds; also each family alone, the view alone and the in-sample pick."""
    start = time.perf_counter()
    views = {f"shape-{k}": shape_scores(files, k) for k in SHAPE_BARS}
    seconds = (time.perf_counter() - start) / len(views)
    start = time.perf_counter()
    views["fuzzy-ART"] = art_scores(files)
    art_seconds = time.perf_counter() - start
    ours = summed + single
    names = labels + [f"{x} single" for x in labels]
    candidates, cand_labels = list(ours), [f"ours {x}" for x in names]
    family = ["ours"] * len(ours)
    for view, shape in views.items():
        for rule, fn in RULES.items():
            for scores, name in zip(ours, names, strict=True):
                candidates.append([fn(a, b) for a, b in zip(scores, shape, strict=True)])
                cand_labels.append(f"{rule}(ours, {view}) {name}")
                family.append(f"{rule}(ours, {view})")
    rows: dict[str, dict[str, float]] = {}

    def run(title: str, pick: list[int]) -> None:
        print(title + ":")
        ins, rows[title], k, _ = cross_validate(files, profiles, [candidates[i] for i in pick],
                                                [cand_labels[i] for i in pick])
        rows[f"    in-sample best of that grid: {cand_labels[pick[k]]}"] = {
            p: v[0] for p, v in ins.items()}

    for view, shape in views.items():
        print(f"{view} alone, threshold chosen in the folds:")
        _, rows[f"{view} alone, CV (threshold only)"], _, _ = cross_validate(
            files, profiles, [shape], [view])
        rows[f"{view} alone, in-sample"] = {p: best(files, shape, c)[0]
                                            for p, c in profiles.items()}
    for fam in dict.fromkeys(family):
        sub = [i for i, f in enumerate(family) if f == fam]
        run(f"{fam}, nested CV (summing x robust weight x threshold)", sub)
        print(f"{fam} with the shipped parameters fixed, threshold in the folds:")
        _, rows[f"{fam}, shipped parameters fixed, CV"], _, _ = cross_validate(
            files, profiles, [candidates[sub[0] + shipped_k]], [f"{fam} shipped"])
    for view in views:
        run(f"{view} always in, rule x summing x robust weight x threshold in folds",
            [i for i, f in enumerate(family) if f.endswith(f"{view})")])
    run("fully nested: further view (none, 3 shape bars, fuzzy ART) x rule x summing x robust"
        " x threshold", list(range(len(candidates))))
    std = profiles["standard"]
    print("best training-category raw score (standard) per family, each fold:")
    categories = sorted({f.name.split("/")[0] for f in files})
    for held in categories:
        pick = [i for i, f in enumerate(files) if f.name.split("/")[0] != held]
        train = [files[i] for i in pick]
        line = []
        for fam in dict.fromkeys(family):
            top = max(best(train, [candidates[k][i] for i in pick], std)[0]
                      for k, f in enumerate(family) if f == fam)
            line.append(f"{fam} {top:.3f}")
        print(f"  held out {held:22s} " + ", ".join(line))
    print(f"\nwith the shape-novelty views ({seconds:.2f} s per bar, fuzzy ART {art_seconds:.2f} s,"
          f" for {len(files)} files) "
          "(standard / reward_low_FP / reward_low_FN):")
    for name, raws in rows.items():
        print(f"  {name:100s} {norm(raws)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="NAB folder (default ../shared/nab from the repo root)")
    parser.add_argument("--fresh", action="store_true", help="ignore cached per-file scores")
    parser.add_argument("--full-grid", action="store_true",
                        help="also vary the older views' weights and look-backs (144 sets)")
    parser.add_argument("--shape", action="store_true",
                        help="also the nested CV with the shape-novelty view as a further view")
    args = parser.parse_args(argv)
    root = nab.data_path(args.data)
    if not (root / "labels" / "combined_windows.json").exists():
        print(f"NAB data not found at {root}", file=sys.stderr)
        return 2
    files = nab.load_corpus(root)
    profiles = nab.load_profiles(root)
    windows = sum(len(f.windows) for f in files)
    candidates = grid(args.full_grid)
    start = time.perf_counter()
    scored = [file_scores(files, p, args.fresh) for p in candidates]
    labels = [f"(mean_w {c.mean_weight}, seasonal_w {c.seasonal_weight}, days "
              f"{c.seasonal_days}, suppress {c.suppress}, robust_w {c.robust_weight})"
              for c in candidates]
    print(f"{len(files)} files, {windows} windows; {len(candidates)} parameter sets scored in "
          f"{time.perf_counter() - start:.1f} s\nscore_series' parameter grid:")
    in_sample, cv_raw, in_k, fold_thr = cross_validate(files, profiles, scored, labels)
    shipped = file_scores(files, DEFAULT)
    print("the shipped parameters, only the threshold chosen inside each fold:")
    _, fixed_cv, _, _ = cross_validate(files, profiles, [shipped], ["shipped parameters"])
    fixed = {p: raw_at(files, shipped, c, 0.5) for p, c in profiles.items()}

    print("without accumulate (the previous scorer), the same grid:")
    single = [file_scores(files, replace(c, accumulate=False)) for c in candidates]
    _, single_cv, _, _ = cross_validate(files, profiles, single, [f"{x} single" for x in labels])
    print("accumulate on or off chosen inside each fold too:")
    _, both_cv, _, _ = cross_validate(files, profiles, scored + single,
                                      labels + [f"{x} single" for x in labels])

    print("accumulate on or off, robust weight and threshold chosen inside each fold, the "
          "candidate by an inner leave-one-category-out CV on the training categories:")
    _, inner_cv, _, _ = cross_validate(files, profiles, scored + single,
                                       labels + [f"{x} single" for x in labels], inner=True)

    print("likelihood-style alternative (excess / (offset + mean past excess)):")
    offsets = (0.01, 0.03, 0.1)
    alt_in, alt_cv, _, _ = cross_validate(files, profiles,
                                          [relative_scores(files, a) for a in offsets],
                                          [f"offset {a}" for a in offsets])

    def norm(raws: dict[str, float]) -> str:
        return " / ".join(f"{normalise(raws[p], windows, c):5.1f}" for p, c in profiles.items())

    why_off(files, profiles, scored, single, labels)
    if args.shape:
        nested_with_shape(files, profiles, scored, single, labels, norm,
                          candidates.index(DEFAULT))

    print("\nNAB score on the 34 files (standard / reward_low_FP / reward_low_FN):")
    print(f"  {'in-sample (params and thresholds tuned on all 34)':56s} "
          f"{norm({p: v[0] for p, v in in_sample.items()})}")
    print(f"  {'leave-one-category-out CV (each category held out)':56s} {norm(cv_raw)}")
    print(f"  {'leave-one-category-out CV, shipped parameters fixed':56s} {norm(fixed_cv)}")
    print(f"  {'leave-one-category-out CV without accumulate':56s} {norm(single_cv)}")
    print(f"  {'leave-one-category-out CV, accumulate chosen in folds':56s} {norm(both_cv)}")
    print(f"  {'the same, candidate chosen by an inner CV (nested)':56s} {norm(inner_cv)}")
    print(f"  {'fixed-threshold (shipped score_series at 0.5)':56s} {norm(fixed)}")
    print(f"  {'likelihood-style alternative, in-sample':56s} "
          f"{norm({p: v[0] for p, v in alt_in.items()})}")
    print(f"  {'likelihood-style alternative, leave-one-category-out CV':56s} {norm(alt_cv)}")
    print(f"  in-sample choice {labels[in_k]}; thresholds "
          + ", ".join(f"{p} {v[1]:.4f}" for p, v in in_sample.items()))
    med = {p: float(np.median(v)) for p, v in fold_thr.items()}
    print("  median training-fold threshold: " + ", ".join(f"{p} {v:.4f}" for p, v in med.items())
          + f" (raw excess {-DEFAULT.scale * math.log(1 - med['standard']):.4f})")
    for name in PUBLISHED_FULL:
        print(f"  published {name:12s} full corpus " + " / ".join(map(str, PUBLISHED_FULL[name]))
              + "; on these 34 with a threshold optimised on them "
              + " / ".join(map(str, PUBLISHED_34[name])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
