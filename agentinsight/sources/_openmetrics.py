"""OpenMetrics / Prometheus text files with timestamped samples into a :class:`SeriesSet`.

Files written by the simulator (and anything ``promtool tsdb create-blocks-from openmetrics``
accepts) hold, for each family, every sample with its timestamp in seconds::

    # TYPE agent_execution_total counter
    agent_execution_total{agent="planner",status="success"} 17 1764237600
    ...
    # EOF

The common line — ``series value timestamp`` with no space inside the labels — is read by
Arrow's multi-threaded CSV reader with a space as delimiter, streaming in blocks (memory stays
bounded by the block size and the numeric arrays), the series key dictionary-encoded on the
fly. Every other line (comments, label values with spaces, exemplars) goes through a Python
path. A sample without a timestamp cannot be placed in time and is an error; errors name the
file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from agentinsight.exceptions import ParseError
from agentinsight.sources._promql import SeriesSet

__all__ = ["read_openmetrics"]

_KEY = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$', re.S)
_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_UNESCAPE = {"n": "\n", "\\": "\\", '"': '"'}
_BLOCK = 32 << 20


def _parse_key(key: str) -> dict[str, str] | None:
    match = _KEY.match(key)
    if not match:
        return None
    labels = {"__name__": match.group(1)}
    body, pos = match.group(2) or "", 0
    while pos < len(body):
        pair = _PAIR.match(body, pos)
        if not pair:
            return None
        labels[pair.group(1)] = re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)),
                                       pair.group(2))
        pos = pair.end()
    return labels


def _split_line(line: str) -> tuple[str, float, float]:
    """``(series key, value, timestamp seconds)`` of one sample line, or ValueError why not."""
    cut = line.find(" # {")
    if cut >= 0:
        line = line[:cut]
    parts = line.rstrip().rsplit(" ", 2)
    if len(parts) < 3 or ("{" in parts[0] and not parts[0].endswith("}")):
        raise ValueError("sample without a timestamp (or malformed)")
    key, value, stamp = parts
    if _parse_key(key) is None:
        raise ValueError("malformed series name or labels")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"value {value!r} is not a number") from None
    try:
        seconds = float(stamp)
    except ValueError:
        raise ValueError(f"timestamp {stamp!r} is not a number") from None
    return key, number, seconds


def _first_error(path: Path) -> ParseError:
    """Re-read the file line by line to report the first bad line with its number (only on the
    error path: the fast reader does not know line numbers)."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.rstrip("\n")
            if not text.strip() or text.startswith("#"):
                continue
            try:
                _split_line(text)
            except ValueError as exc:
                return ParseError(f"{exc}: {text[:200]!r}", path=str(path), line=lineno)
    return ParseError("unreadable OpenMetrics text", path=str(path))


class _Collector:
    """Series keys → codes, and the numeric columns of every sample read so far."""

    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []
        self.index: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self.codes: list[np.ndarray] = []
        self.t: list[np.ndarray] = []
        self.v: list[np.ndarray] = []

    def code(self, key: str, path: Path) -> int:
        found = self.index.get(key)
        if found is None:
            labels = _parse_key(key)
            if labels is None:
                raise _first_error(path)
            found = self.index[key] = len(self.rows)
            self.rows.append(labels)
        return found

    def add(self, codes: np.ndarray, seconds: np.ndarray, values: np.ndarray) -> None:
        self.codes.append(codes.astype("int64"))
        self.t.append(np.round(seconds * 1000.0).astype("int64"))
        self.v.append(values.astype("float64"))

    def comment_or_odd_line(self, text: str, path: Path) -> None:
        if text.startswith("#"):
            parts = text.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                self.types[parts[2]] = parts[3]
            return
        if not text.strip():
            return
        try:
            key, value, seconds = _split_line(text)
        except ValueError:
            raise _first_error(path) from None
        self.add(np.array([self.code(key, path)]), np.array([seconds]), np.array([value]))

    def series_set(self) -> SeriesSet:
        labels = pd.DataFrame(self.rows) if self.rows else pd.DataFrame({"__name__": []})
        if self.codes:
            codes, t, v = (np.concatenate(a) for a in (self.codes, self.t, self.v))
        else:
            codes, t, v = np.zeros(0, "int64"), np.zeros(0, "int64"), np.zeros(0)
        return SeriesSet.from_samples(labels, codes, t, v)


def _read_file(path: Path, out: _Collector) -> None:
    odd: list[str] = []

    def on_odd_row(row: pacsv.InvalidRow) -> str:
        odd.append(row.text)
        return "skip"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=["key", "value", "ts"],
                                           block_size=_BLOCK),
            parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False, escape_char=False,
                                              ignore_empty_lines=True,
                                              invalid_row_handler=on_odd_row),
            convert_options=pacsv.ConvertOptions(
                column_types={"key": pa.dictionary(pa.int32(), pa.string()),
                              "value": pa.string(), "ts": pa.string()},
                strings_can_be_null=False),
        )
        for batch in reader:
            keys = batch.column("key")
            names = keys.dictionary.to_pylist()
            # Three-word comments ("# HELP name") land here as key "#": not samples.
            remap = np.array([-1 if k.startswith("#") else out.code(k, path) for k in names]
                             or [0], dtype="int64")
            local = keys.indices.to_numpy(zero_copy_only=False)
            codes = remap[local]
            sample = codes >= 0
            if not sample.all():
                mask = pa.array(sample)
                values_col = pc.filter(batch.column("value"), mask)
                stamps_col = pc.filter(batch.column("ts"), mask)
                codes = codes[sample]
            else:
                values_col, stamps_col = batch.column("value"), batch.column("ts")
            try:
                values = pc.cast(values_col, pa.float64()).to_numpy(zero_copy_only=False)
                seconds = pc.cast(stamps_col, pa.float64()).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid:
                raise _first_error(path) from None
            out.add(codes, seconds, values)
    except pa.ArrowInvalid as exc:
        raise ParseError(f"cannot read as OpenMetrics text: {exc}", path=str(path)) from None
    for text in odd:
        out.comment_or_odd_line(text, path)


def read_openmetrics(paths: list[Path]) -> tuple[SeriesSet, dict[str, str]]:
    """Every timestamped sample of the given files, and each family's declared type."""
    out = _Collector()
    for path in paths:
        _read_file(Path(path), out)
    return out.series_set(), out.types
