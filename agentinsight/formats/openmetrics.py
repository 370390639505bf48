"""Timestamped OpenMetrics text: the writer's lines, the parser, and the parsed copy of a file.

Files written by the simulator (and anything ``promtool tsdb create-blocks-from openmetrics``
accepts) hold, for each family, every sample with its timestamp in seconds::

    # HELP agent_execution_total Agent runs.
    # TYPE agent_execution_total counter
    agent_execution_total{agent="planner",status="success"} 17 1764237600
    ...
    # EOF

**Writing.** :func:`series_key` spells a series (name and escaped labels) the way
:func:`parse_series_key` reads it back; :func:`format_float`, :func:`format_values` and
:func:`format_timestamps` spell numbers as Prometheus does; :func:`family_header` and :data:`EOF`
frame the families.

**Reading.** :func:`read_openmetrics` reads the common line — ``series value timestamp`` with no
space inside the labels — with Arrow's multi-threaded CSV reader (a space as delimiter, streaming
in blocks, the series key dictionary-encoded on the fly); every other line (comments, label values
with spaces, exemplars) goes through a Python path. A sample without a timestamp cannot be placed
in time and is an error; errors name the file and line. The result is a :class:`Samples`.

**The parsed copy.** A week of samples is read in a second instead of a minute from
``.NAME.samples.parquet`` beside the text (:func:`samples_cache_path`): series index, time and
value columns, the series labels and family types in the file's metadata. The copy names the size
and modification time of the text it was made from and is ignored as soon as the text changes.
Writing it is best-effort: a read-only directory just means parsing every time.

Only the standard library is imported with this module; numpy, pandas and pyarrow are imported
by the functions that need them.

>>> key = series_key("up", [("job", 'say "hi"')])
>>> key
'up{job="say \\\\"hi\\\\""}'
>>> parse_series_key(key)
{'__name__': 'up', 'job': 'say "hi"'}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

from agentinsight._fs import atomic_write
from agentinsight.exceptions import ParseError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "EOF",
    "Samples",
    "escape_help",
    "escape_label_value",
    "family_header",
    "format_float",
    "format_timestamps",
    "format_values",
    "parse_series_key",
    "read_openmetrics",
    "read_samples_cache",
    "samples_cache_path",
    "series_key",
    "write_samples_cache",
]

#: The line that ends an OpenMetrics exposition.
EOF: Final = "# EOF\n"


# == writing ====================================================================================
def escape_label_value(value: str) -> str:
    """A label value escaped for the text format (backslash, newline, double quote)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def escape_help(text: str) -> str:
    """A ``# HELP`` text escaped for the text format (backslash, newline)."""
    return text.replace("\\", r"\\").replace("\n", r"\n")


def series_key(name: str, pairs: Iterable[tuple[str, str]]) -> str:
    """``name{label="value",...}`` (just ``name`` without labels), as a sample line starts.

    >>> series_key("tool_usage_total", [("tool", "web_search"), ("status", "success")])
    'tool_usage_total{tool="web_search",status="success"}'
    """
    body = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs)
    return f"{name}{{{body}}}" if body else name


def family_header(name: str, type_: str, help_: str) -> str:
    """The ``# HELP`` and ``# TYPE`` lines that open a family."""
    return f"# HELP {name} {escape_help(help_)}\n# TYPE {name} {type_}\n"


def format_float(value: float) -> str:
    """A number as Prometheus (Go) prints it: ``+Inf``, ``NaN``, and an exponent for large
    positive values, as in histogram ``le`` labels.

    >>> format_float(0.25), format_float(float("inf")), format_float(10000000.0)
    ('0.25', '+Inf', '1e+07')
    """
    d = float(value)
    if d == math.inf:
        return "+Inf"
    if d == -math.inf:
        return "-Inf"
    if math.isnan(d):
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    # Go switches to exponents sooner than Python (only positive values matter: le, quantile).
    if d > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


def format_values(col: np.ndarray) -> list[Any]:
    """A column of values as OpenMetrics numbers (``str()`` of each item): a column of whole
    numbers as integers, any other floats exactly (repr), a column with a non-finite value
    through :func:`format_float`.

    >>> import numpy as np
    >>> [str(v) for v in format_values(np.array([3.0, 4.0]))]
    ['3', '4']
    >>> [str(v) for v in format_values(np.array([3.0, 0.5]))]
    ['3.0', '0.5']
    """
    import numpy as np

    if not np.isfinite(col).all():
        return [format_float(v) for v in col.tolist()]
    if (np.abs(col) < 2**53).all() and (col == np.floor(col)).all():
        return col.astype(np.int64).tolist()
    return col.tolist()


def format_timestamps(seconds: Sequence[float]) -> list[str]:
    """Sample timestamps in seconds: whole seconds if they all are, else milliseconds.

    >>> format_timestamps([60.0, 120.0]), format_timestamps([60.0, 60.5])
    (['60', '120'], ['60.000', '60.500'])
    """
    if all(float(t).is_integer() for t in seconds):
        return [str(int(t)) for t in seconds]
    return [f"{t:.3f}" for t in seconds]


# == the samples of many series =================================================================
class Samples:
    """Raw samples of many series: one row of ``labels`` per series (``__name__`` included);
    each series' samples are ``t[offsets[i]:offsets[i+1]]`` (int64 ms, ascending) and
    ``v[...]`` (float64)."""

    def __init__(self, labels: pd.DataFrame, offsets: np.ndarray, t: np.ndarray,
                 v: np.ndarray) -> None:
        self.labels = labels.reset_index(drop=True)
        self.offsets = offsets
        self.t = t
        self.v = v

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_samples(cls, labels: pd.DataFrame, codes: np.ndarray, t: np.ndarray,
                     v: np.ndarray) -> Self:
        """Build from unsorted samples; ``codes`` index rows of ``labels``. A repeated
        timestamp within a series keeps the last value read."""
        import numpy as np

        order = np.lexsort((np.arange(len(t)), t, codes))
        codes, t, v = codes[order], t[order], v[order]
        keep = np.ones(len(t), bool)
        if len(t) > 1:
            keep[:-1] = (codes[1:] != codes[:-1]) | (t[1:] != t[:-1])
        codes, t, v = codes[keep], t[keep], v[keep]
        counts = np.bincount(codes, minlength=len(labels))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype("int64")
        return cls(labels, offsets, t, v)


# == reading ====================================================================================
_KEY = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$', re.S)
_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_UNESCAPE = {"n": "\n", "\\": "\\", '"': '"'}
_BLOCK = 32 << 20


def parse_series_key(key: str) -> dict[str, str] | None:
    """The labels of a series key, the name as ``__name__``; None if it is malformed."""
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
    if parse_series_key(key) is None:
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
            labels = parse_series_key(key)
            if labels is None:
                raise _first_error(path)
            found = self.index[key] = len(self.rows)
            self.rows.append(labels)
        return found

    def add(self, codes: np.ndarray, seconds: np.ndarray, values: np.ndarray) -> None:
        import numpy as np

        self.codes.append(codes.astype("int64"))
        self.t.append(np.round(seconds * 1000.0).astype("int64"))
        self.v.append(values.astype("float64"))

    def comment_or_odd_line(self, text: str, path: Path) -> None:
        import numpy as np

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

    def samples(self) -> Samples:
        import numpy as np
        import pandas as pd

        labels = pd.DataFrame(self.rows) if self.rows else pd.DataFrame({"__name__": []})
        if self.codes:
            codes, t, v = (np.concatenate(a) for a in (self.codes, self.t, self.v))
        else:
            codes, t, v = np.zeros(0, "int64"), np.zeros(0, "int64"), np.zeros(0)
        return Samples.from_samples(labels, codes, t, v)


def _check_complete(path: Path) -> None:
    """An OpenMetrics exposition ends with ``# EOF``; a file without it was cut short (a copy or
    a write that stopped part way) and is refused rather than read as if complete."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - 64))
            tail = handle.read()
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    if size and tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].strip() == b"# EOF":
        return
    with path.open("rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    raise ParseError("the file does not end with '# EOF': it is truncated, or not OpenMetrics "
                     f"(read stopped after line {lines}; nothing from it was loaded)",
                     path=str(path), line=lines)


def _read_file(path: Path, out: _Collector) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

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


def read_openmetrics(paths: Iterable[str | Path]) -> tuple[Samples, dict[str, str]]:
    """Every timestamped sample of the given files, and each family's declared type.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.om"
    >>> _ = p.write_text('# TYPE up gauge\\nup{job="a"} 1 60\\nup{job="a"} 0 120\\n# EOF\\n')
    >>> samples, types = read_openmetrics([p])
    >>> len(samples), samples.t.tolist(), samples.v.tolist(), types
    (1, [60000, 120000], [1.0, 0.0], {'up': 'gauge'})
    """
    out = _Collector()
    for path in paths:
        _check_complete(Path(path))
        _read_file(Path(path), out)
    return out.samples(), out.types


# == the parsed copy ============================================================================
_CACHE_VERSION = "1"


def samples_cache_path(source: Path) -> Path:
    """Where the parsed copy of the OpenMetrics file ``source`` lives."""
    return source.with_name(f".{source.name}.samples.parquet")


def _stamp(source: Path) -> dict[str, str]:
    stat = source.stat()
    return {"size": str(stat.st_size), "mtime_ns": str(stat.st_mtime_ns)}


def read_samples_cache(source: Path) -> tuple[Samples, dict[str, str]] | None:
    """The samples of ``source`` from its parsed copy, or None when there is no fresh copy."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = samples_cache_path(source)
    try:
        table = pq.read_table(path)
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if meta.get("agentinsight.version") != _CACHE_VERSION or any(
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
    return Samples(labels, offsets, t, v), types


def write_samples_cache(source: Path, samples: Samples, types: dict[str, str]) -> Path | None:
    """Keep the parsed samples of ``source`` beside it; returns the path, or None if the
    directory cannot be written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = samples_cache_path(source)
    labels = samples.labels.astype(object).where(samples.labels.notna(), None)
    rows = [{k: v for k, v in row.items() if v is not None}
            for row in labels.to_dict("records")]
    metadata = {
        "agentinsight.version": _CACHE_VERSION,
        "agentinsight.labels": json.dumps(rows, separators=(",", ":")),
        "agentinsight.types": json.dumps(types, separators=(",", ":")),
        "agentinsight.offsets": json.dumps(samples.offsets.tolist(), separators=(",", ":")),
        **{f"agentinsight.source.{k}": v for k, v in _stamp(source).items()},
    }
    table = pa.table({"t": pa.array(samples.t, pa.int64()),
                      "v": pa.array(samples.v, pa.float64())})
    table = table.replace_schema_metadata(metadata)
    try:
        return atomic_write(target, lambda f: pq.write_table(table, f, compression="zstd"))
    except OSError:
        return None
