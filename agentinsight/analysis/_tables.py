"""Input checks and grouping shared by the performance and SLO tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.analysis._spantree import require
from agentinsight.exceptions import ConfigurationError
from agentinsight.frames import label_columns, validate_metrics_frame

__all__ = ["as_metrics", "check_objective", "grouped", "select_spans", "ungroup"]


def as_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a metrics frame, first making text label columns categorical.

    ``pd.concat`` of frames whose categories differ yields plain text columns; accept those.
    """
    if isinstance(frame, pd.DataFrame):
        text = [c for c in ("metric", *label_columns(frame)) if c in frame.columns
                and not isinstance(frame[c].dtype, pd.CategoricalDtype)
                and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]))]
        if text:
            frame = frame.astype({c: "category" for c in text})
    return validate_metrics_frame(frame)


def select_spans(spans: pd.DataFrame, operation: str | None, columns: Sequence[str], *,
                 roots: bool = True) -> pd.DataFrame:
    """Spans of one operation; without one, root spans (``roots``) or every span."""
    require(spans, ("parent_span_id", "operation", *columns))
    if operation is not None:
        return spans[spans["operation"].astype(object).eq(operation)]
    return spans[spans["parent_span_id"].fillna("").eq("")] if roots else spans


def grouped(frame: pd.DataFrame, by: Sequence[str], column: str) -> Any:
    """``frame[column]`` grouped by ``by`` (one group of everything when ``by`` is empty)."""
    keys = list(by) if by else np.zeros(len(frame), dtype=np.int64)
    return frame.groupby(keys, dropna=False, sort=True)[column]


def ungroup(out: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """The groups of a table made with :func:`grouped` as columns (none without ``by``)."""
    return out.reset_index() if by else out.reset_index(drop=True)


def check_objective(objective: float) -> None:
    """Raise a ConfigurationError unless ``0 < objective < 1``."""
    if not 0.0 < objective < 1.0:
        raise ConfigurationError(f"objective must be strictly between 0 and 1 (e.g. 0.99), "
                                 f"got {objective}")
