"""OpenMetrics / Prometheus text files with timestamped samples into a :class:`SeriesSet`.

Files written by the simulator (and anything ``promtool tsdb create-blocks-from openmetrics``
accepts) hold, for each family, every sample with its timestamp in seconds::

    # TYPE agent_execution_total counter
    agent_execution_total{agent="planner",status="success"} 17 1764237600
    ...
    # EOF

Lines are split with Arrow compute kernels (C++), so days of samples parse in seconds; only the
distinct series keys are parsed in Python. Exemplars (``... # {trace_id="..."} 0.5 123``) are
ignored here. A sample without a timestamp cannot be placed in time and is an error.
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


def _lines(path: Path) -> pa.Array:
    options = dict(
        read_options=pacsv.ReadOptions(column_names=["line"], block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter="\x01", quote_char=False, escape_char=False,
                                          ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(column_types={"line": pa.large_string()},
                                             strings_can_be_null=False),
    )
    try:
        table = pacsv.read_csv(path, **options)
    except pa.ArrowInvalid as exc:
        raise ParseError(f"cannot read as text lines: {exc}", path=str(path)) from None
    return table.column("line").combine_chunks()


def _fail(path: Path, line_index: int, text: str, why: str) -> ParseError:
    return ParseError(f"{why}: {text[:200]!r}", path=str(path), line=line_index + 1)


def read_openmetrics(paths: list[Path]) -> tuple[SeriesSet, dict[str, str]]:
    """Every timestamped sample of the given files, and each family's declared type."""
    label_rows: list[dict[str, str]] = []
    key_index: dict[str, int] = {}
    types: dict[str, str] = {}
    all_codes, all_t, all_v = [], [], []
    for path in paths:
        lines = _lines(path)
        is_comment = pc.starts_with(lines, "#")
        is_blank = pc.equal(pc.binary_length(pc.utf8_rtrim_whitespace(lines)), 0)
        for text in pc.filter(lines, pc.starts_with(lines, "# TYPE ")).to_pylist():
            parts = text.split()
            if len(parts) >= 4:
                types[parts[2]] = parts[3]
        is_sample = pc.invert(pc.or_(is_comment, is_blank))
        sample_idx = pc.indices_nonzero(is_sample)
        samples = pc.utf8_rtrim_whitespace(pc.filter(lines, is_sample))
        # Drop exemplars: "<series> <value> <ts> # {labels} <value> [<ts>]".
        has_exemplar = pc.match_substring(samples, " # {")
        if pc.any(has_exemplar).as_py():
            stripped = pc.list_element(
                pc.split_pattern(pc.filter(samples, has_exemplar), " # {", max_splits=1), 0)
            samples = pc.replace_with_mask(samples, has_exemplar, stripped)
        parts = pc.split_pattern(samples, " ", max_splits=2, reverse=True)
        nparts = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
        if len(nparts) and (nparts < 3).any():
            i = int(np.flatnonzero(nparts < 3)[0])
            raise _fail(path, int(sample_idx[i].as_py()), samples[i].as_py(),
                        "sample without a timestamp (or malformed)")
        keys = pc.list_element(parts, 0) if len(samples) else pa.array([], pa.large_string())
        # A label value with a space in a line without timestamp splits inside the braces.
        torn = pc.and_(pc.match_substring(keys, "{"), pc.invert(pc.ends_with(keys, "}")))
        if len(keys) and pc.any(torn).as_py():
            i = pc.index(torn, True).as_py()
            raise _fail(path, int(sample_idx[i].as_py()), samples[i].as_py(),
                        "sample without a timestamp (or malformed)")
        values = _floats(path, sample_idx, samples, parts, 1, "value")
        stamps = _floats(path, sample_idx, samples, parts, 2, "timestamp")
        encoded = pc.dictionary_encode(keys) if len(keys) else None
        if encoded is None:
            continue
        local = encoded.indices.to_numpy(zero_copy_only=False).astype("int64")
        remap = np.empty(len(encoded.dictionary), dtype="int64")
        for j, key in enumerate(encoded.dictionary.to_pylist()):
            if key not in key_index:
                labels = _parse_key(key)
                if labels is None:
                    i = int(np.flatnonzero(local == j)[0])
                    raise _fail(path, int(sample_idx[i].as_py()), samples[i].as_py(),
                                "malformed series name or labels")
                key_index[key] = len(label_rows)
                label_rows.append(labels)
            remap[j] = key_index[key]
        all_codes.append(remap[local])
        all_t.append(np.round(stamps * 1000.0).astype("int64"))
        all_v.append(values)
    labels = pd.DataFrame(label_rows) if label_rows else pd.DataFrame({"__name__": []})
    if all_codes:
        codes, t, v = (np.concatenate(a) for a in (all_codes, all_t, all_v))
    else:
        codes, t, v = (np.zeros(0, "int64"), np.zeros(0, "int64"), np.zeros(0))
    return SeriesSet.from_samples(labels, codes, t, v), types


def _floats(path: Path, sample_idx: pa.Array, samples: pa.Array, parts: pa.Array, i: int,
            what: str) -> np.ndarray:
    if not len(samples):
        return np.zeros(0)
    column = pc.list_element(parts, i)
    try:
        return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        texts = column.to_pylist()
        for j, text in enumerate(texts):
            try:
                float(text)
            except ValueError:
                raise _fail(path, int(sample_idx[j].as_py()), samples[j].as_py(),
                            f"{what} {text!r} is not a number") from None
        raise
