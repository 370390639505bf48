"""An optional on-disk cache of query results, as parquet files.

A result is keyed by the source (its URL), the query text and the evaluation grid (start, end,
step). With a cache, a source aligns start and end down to a multiple of the step, so that
``start="now-7d"`` asked twice an hour apart still lands on the same key for the part already
settled. Only results whose end lies ``settle`` seconds in the past are stored: the newest
minutes may still change (late scrapes, rule evaluation), the past does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pandas as pd

from agentinsight._fs import atomic_write
from agentinsight.sources._helpers import Grid

__all__ = ["QueryCache", "aligned"]


class QueryCache:
    """Parquet files under ``directory``, one per (source, query, grid).

    >>> import tempfile
    >>> cache = QueryCache(tempfile.mkdtemp())
    >>> cache.get("http://prom", "up", Grid(0, 60_000, 15_000)) is None
    True
    """

    def __init__(self, directory: str | os.PathLike[str], settle: float = 600.0) -> None:
        self.directory = Path(directory)
        self.settle = settle

    def _path(self, source: str, query: str, grid: Grid) -> Path:
        key = json.dumps([source, query, grid.start_ms, grid.end_ms, grid.step_ms])
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.parquet"

    def get(self, source: str, query: str, grid: Grid) -> pd.DataFrame | None:
        path = self._path(source, query, grid)
        if not path.is_file():
            return None
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError):
            return None  # a torn or foreign file: fetch again
        frame.attrs.update(cached=True)
        return frame

    def put(self, source: str, query: str, grid: Grid, frame: pd.DataFrame) -> None:
        if grid.end_ms > (time.time() - self.settle) * 1000:
            return
        stored = frame.copy()
        stored.attrs = {k: v for k, v in frame.attrs.items() if k in ("query", "url", "step")}
        # readers never see half a file
        atomic_write(self._path(source, query, grid), lambda f: stored.to_parquet(f, index=False))


def aligned(grid: Grid) -> Grid:
    """The grid with start and end moved down to multiples of the step."""
    start = grid.start_ms - grid.start_ms % grid.step_ms
    end = grid.end_ms - grid.end_ms % grid.step_ms
    return Grid(start, max(start, end), grid.step_ms)
