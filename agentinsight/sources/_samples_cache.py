"""A parsed copy of an OpenMetrics file, so that a week of samples is read in a second, not a
minute.

``FileSource`` parses ``metrics.om`` once and keeps the samples beside it in
``.metrics.om.samples.parquet`` (series index, time, value columns; the series labels and family
types in the file's metadata). The copy names the size and modification time of the text it was
made from and is ignored as soon as the text changes. The simulator writes the copy directly from
the values it recorded, so its files open fast the first time too. Writing is best-effort: a
read-only directory just means parsing every time.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from agentinsight.sources._promql import SeriesSet

__all__ = ["cache_path", "read_cache", "write_cache"]

_VERSION = "1"


def cache_path(source: Path) -> Path:
    """Where the parsed copy of ``source`` lives."""
    return source.with_name(f".{source.name}.samples.parquet")


def _stamp(source: Path) -> dict[str, str]:
    stat = source.stat()
    return {"size": str(stat.st_size), "mtime_ns": str(stat.st_mtime_ns)}


def read_cache(source: Path) -> tuple[SeriesSet, dict[str, str]] | None:
    """The samples of ``source`` from its parsed copy, or None when there is no fresh copy."""
    path = cache_path(source)
    try:
        table = pq.read_table(path)
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if meta.get("agentinsight.version") != _VERSION or any(
                meta.get(f"agentinsight.source.{k}") != v for k, v in _stamp(source).items()):
            return None
        labels = pd.DataFrame(json.loads(meta["agentinsight.labels"]))
        types = json.loads(meta["agentinsight.types"])
        offsets = np.asarray(json.loads(meta["agentinsight.offsets"]), dtype="int64")
        t = table.column("t").to_numpy()
        v = table.column("v").to_numpy()
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None
    if len(offsets) != len(labels) + 1 or offsets[-1] != len(t):
        return None
    return SeriesSet(labels, offsets, t, v), types


def write_cache(source: Path, series: SeriesSet, types: dict[str, str]) -> Path | None:
    """Keep the parsed samples of ``source`` beside it; returns the path, or None if the
    directory cannot be written."""
    target = cache_path(source)
    labels = series.labels.astype(object).where(series.labels.notna(), None)
    rows = [{k: v for k, v in row.items() if v is not None}
            for row in labels.to_dict("records")]
    metadata = {
        "agentinsight.version": _VERSION,
        "agentinsight.labels": json.dumps(rows, separators=(",", ":")),
        "agentinsight.types": json.dumps(types, separators=(",", ":")),
        "agentinsight.offsets": json.dumps(series.offsets.tolist(), separators=(",", ":")),
        **{f"agentinsight.source.{k}": v for k, v in _stamp(source).items()},
    }
    table = pa.table({"t": pa.array(series.t, pa.int64()), "v": pa.array(series.v, pa.float64())})
    table = table.replace_schema_metadata(metadata)
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
        return None
    return target
