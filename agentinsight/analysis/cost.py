"""Token cost: price every LLM call once, then cut the bill by agent, model, task, tool chain, day.

Two inputs give the same tables:

* a **spans frame** (``agentinsight.frames``): :func:`price_spans` prices each call at its own
  timestamp; :func:`cost_table` and the other tables aggregate it;
* a **metrics frame** of token counters from a source's ``token_usage(by=[...])`` helper
  (label columns such as ``agent``, ``provider``, ``model``, ``token_type``; values are tokens
  per step): :func:`price_token_usage` / :func:`cost_from_token_usage`.

Counting rules, chosen so that no token is billed twice and none is billed at $0 by accident:

* **Each call once.** The same call seen by two instrumentations — the same provider and
  ``gen_ai.response.id``, in one trace or two, or a model-call span nested in another — is
  billed once, from the span that recorded the most token fields (``duplicate_of`` names the
  span billed instead). Beyond that **only leaf usage is billed**: a span carrying token counts
  is billed only when none of its descendants carries token counts. An ``invoke_agent`` span
  that repeats the sum of its LLM calls is therefore never counted again; a token-carrying span
  whose calls were not traced is billed once, itself (and, without a model, shows up as
  unpriced usage).
* **Cached tokens** follow the OpenTelemetry GenAI convention, which is also how genai-prices
  counts them: ``input_tokens`` includes cache reads and writes, ``reasoning_tokens`` is part of
  ``output_tokens``. A part is billed at its own rate where the model has one (cache writes at
  the cache-write rate), else at its parent's rate. Raw provider counts — Anthropic's
  ``input_tokens`` leave out the cache, Gemini's output leaves out the thoughts; seen when the
  parts exceed their whole or when the span's total token count adds up only with them — are
  brought to the convention with a warning (the frame's token columns are corrected too).
* **Prices** come from genai-prices (pinned; see ``GENAI_PRICES_VERSION``) at each call's start
  time, with tiers, date and time-of-day price periods. OpenTelemetry provider names are mapped
  to genai-prices' (``gcp.gemini`` → google, ``aws.bedrock`` → aws, ...); a span without a
  provider is matched by model name; a provider genai-prices does not know is *not* guessed from
  the model name. A user table (``prices=``, see :func:`normalise_price_table`) overrides or
  extends genai-prices from each row's ``valid_from``.
* **Batch / service tier** honoured from span attributes: ``gen_ai.request.batch`` (true) or a
  service tier of ``batch`` selects genai-prices' ``processing=batch`` prices (where it lists
  them for that date; ``price_source`` ends ``[processing=batch]`` when they applied); a tier from
  ``openai.response.service_tier``, ``gen_ai.openai.response.service_tier``,
  ``gen_ai.response.service_tier`` (then the ``.request.`` forms) selects its variant
  (``auto`` is ignored). Counters carry no such context: standard prices, base tier.
* **Usage that cannot be read** — a span naming a model whose token counts sit only under
  attribute names the alias table of :mod:`agentinsight.semconv` does not know — is unpriced
  with a reason naming those attributes, never $0.
* **Unknown models, providers or missing input_tokens** give ``priced=False``, ``cost_usd=NaN``
  and an ``unpriced_reason``; tables count them as ``unpriced_calls`` / ``unpriced_tokens`` and
  :func:`unpriced_usage` lists them. A missing ``output_tokens`` (embeddings), cache or
  reasoning count means none.
* **Bad token counts** (negative) raise
  :class:`~agentinsight.exceptions.SchemaError` naming the column and a span; pass
  ``errors="unprice"`` to turn those calls into unpriced usage with a warning instead.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.analysis import display
from agentinsight.analysis._billing import (
    COST_COLUMNS,
    UNKNOWN,
    example_spans,
    price_spans,
    price_token_usage,
    traces_frame,
)
from agentinsight.analysis._prices import GENAI_PRICES_VERSION, normalise_price_table
from agentinsight.analysis._spantree import SpanForest
from agentinsight.exceptions import ConfigurationError, SchemaError
from agentinsight.frames import utc_timestamp

__all__ = [
    "CostTable",
    "GENAI_PRICES_VERSION",
    "budget_burn",
    "cache_savings",
    "cost_from_token_usage",
    "cost_per_successful_task",
    "cost_table",
    "example_spans",
    "month_end_projection",
    "normalise_price_table",
    "price_spans",
    "price_token_usage",
    "reconcile",
    "top_traces",
    "unpriced_usage",
]



_SUMS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
         "reasoning_tokens")
_UNKNOWN = UNKNOWN


class CostTable(pd.DataFrame):
    """A DataFrame that renders as a readable table in JupyterLab ($, thousands, percentages).

    Anything derived from it (slices, sorts) is a plain DataFrame again. ``.styled()`` gives
    the :class:`pandas.io.formats.style.Styler` used for the HTML.

    >>> t = CostTable({"model": ["gpt-4o"], "cost_usd": [1234.5], "calls": [10]})
    >>> "$1,234.50" in t._repr_html_()
    True
    """

    def styled(self) -> Any:
        """The table as a Styler (see :mod:`agentinsight.analysis.display`): dollars for
        ``*_usd``, whole token counts, percentages for ratios, NaN cost shown as ``unpriced``."""
        styler = self._display().styler()
        caption = " ".join(str(self.attrs[k]) for k in ("title", "note") if self.attrs.get(k))
        return styler.set_caption(html.escape(caption, quote=False)) if caption else styler

    def _display(self) -> display.Table:
        return display.table(pd.DataFrame(self), title=str(self.attrs.get("title", "")),
                             note=str(self.attrs.get("note", "")),
                             empty=str(self.attrs.get("empty", "")))

    def _repr_html_(self) -> str:  # type: ignore[override]
        return self._display()._repr_html_()


# --- dimensions ----------------------------------------------------------------------------------

_TIME_DIMS = {"hour": "h", "day": "D", "week": "W", "month": "M"}


def _as_by(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    names = [by] if isinstance(by, str) else list(by)
    if any(not isinstance(b, str) for b in names):
        raise ConfigurationError(f"by: expected column names, got {by!r}")
    return names


def _usage_frame(frame: pd.DataFrame, prices: Any) -> pd.DataFrame:
    """A priced spans frame or a priced token-usage frame, pricing ``frame`` if needed."""
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"expected a spans or token usage DataFrame, got {type(frame).__name__}")
    if "billable" in frame.columns and "cost_usd" in frame.columns:
        return frame
    if "span_id" in frame.columns:
        return price_spans(frame, prices=prices)
    if "token_type" in frame.columns:
        return price_token_usage(frame, prices=prices)
    raise SchemaError("expected a spans frame (with 'span_id'), a token usage metrics frame "
                      f"(with 'token_type') or a priced frame; got columns {list(frame.columns)}")


def _is_spans(frame: pd.DataFrame) -> bool:
    return "span_id" in frame.columns


def _time_of(frame: pd.DataFrame) -> pd.Series:
    return frame["start"] if _is_spans(frame) else frame["timestamp"]


def _dimensions(priced: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Billable rows of a priced frame with one column per requested dimension."""
    bill = priced["billable"].to_numpy(dtype=bool)
    rows = priced.reindex(columns=[*_SUMS, *COST_COLUMNS, "priced", "provider", "model",
                                   "unpriced_reason"]).loc[bill]
    when = _time_of(priced)[bill]
    rows["_time"] = when
    spans = _is_spans(priced)
    tree = bool(spans and {"agent", "task_type", "tool_chain", "root_agent"} & set(names))
    forest = SpanForest(priced, cycles="break") if tree else None
    traces: pd.DataFrame | None = None
    for name in names:
        if name in _TIME_DIMS:
            rows[name] = when.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(
                _TIME_DIMS[name]).dt.start_time.dt.tz_localize("UTC")
        elif forest is not None and name == "agent":
            rows[name] = forest.fill(priced["agent"].to_numpy(object))[bill]
        elif forest is not None and name in {"task_type", "tool_chain", "root_agent"}:
            if traces is None:
                traces = traces_frame(priced, forest)
            source = "agent" if name == "root_agent" else name
            rows[name] = traces[source].to_numpy(object)[forest.trace_code[bill]]
        elif name in priced.columns:
            rows[name] = priced.loc[bill, name].to_numpy(object)
        else:
            extra = "agent, task_type, tool_chain, root_agent, " if spans else ""
            raise ConfigurationError(
                f"by: unknown dimension {name!r}; use {extra}{', '.join(_TIME_DIMS)} or a column "
                f"of the frame ({', '.join(map(str, priced.columns[:12]))}, ...)")
        if name not in _TIME_DIMS:
            rows[name] = rows[name].astype(object).where(rows[name].notna(), _UNKNOWN)
    return rows


def _aggregate(rows: pd.DataFrame, by: list[str], spans: bool) -> pd.DataFrame:
    keys = by or [pd.Series("total", index=rows.index, name="total")]
    unpriced = ~rows["priced"].to_numpy(dtype=bool)
    rows = rows.assign(
        tokens=rows["input_tokens"] + rows["output_tokens"], calls=1,
        unpriced_calls=unpriced.astype("int64"),
        unpriced_tokens=np.where(unpriced, rows["input_tokens"] + rows["output_tokens"], 0.0))
    grouped = rows.groupby(keys, dropna=False, sort=False, observed=True)
    table = grouped[["calls", *_SUMS, "tokens"]].sum()
    table["cost_usd"] = grouped["cost_usd"].sum(min_count=1)
    table[["unpriced_calls", "unpriced_tokens"]] = grouped[["unpriced_calls",
                                                             "unpriced_tokens"]].sum()
    if not spans:
        table["calls"] = np.nan
        table["unpriced_calls"] = np.nan
    total = table["cost_usd"].sum()
    table["cost_share"] = table["cost_usd"] / total if total > 0 else np.nan
    table = table.sort_values("cost_usd", ascending=False, na_position="last")
    return table.reset_index(drop=not by)


def _note(rows: pd.DataFrame) -> str:
    unpriced = rows.loc[~rows["priced"].to_numpy(dtype=bool)]
    if unpriced.empty:
        return ""
    models = sorted({str(m) for m in unpriced["model"].dropna()})[:5]
    return (f"Costs exclude {len(unpriced):,} unpriced usage row(s), "
            f"{(unpriced['input_tokens'] + unpriced['output_tokens']).sum():,.0f} tokens "
            f"(models: {', '.join(models) or 'none given'}).")


def _table(frame: pd.DataFrame, title: str, note: str = "") -> CostTable:
    table = CostTable(frame)
    table.attrs.update(title=title, note=note)
    return table


# --- tables --------------------------------------------------------------------------------------


def cost_table(
    spans_or_priced: pd.DataFrame, by: str | Sequence[str] = ("agent",), *, prices: Any = None
) -> CostTable:
    """Cost and token totals grouped by ``by``, most expensive first.

    ``by`` names: ``agent`` (the span's agent or its nearest ancestor's), ``task_type`` (the
    top-most ``agentinsight.task.type`` attribute (see ``semconv.TASK_TYPE_ATTRIBUTES``) on the
    trace's ``task``/``invoke_agent`` spans, else the root agent), ``root_agent``,
    ``tool_chain`` (the trace's tools in order), ``hour``, ``day``, ``week``, ``month``, or any
    column (``model``, ``provider``, ``service``, ...).
    Works on spans, priced spans, a token-usage metrics frame or its priced form (there
    ``calls`` is unknown). Columns: ``calls``, the token sums, ``tokens`` (input + output),
    ``cost_usd`` (NaN when nothing in the group is priced), ``unpriced_calls``,
    ``unpriced_tokens``, ``cost_share``.

    >>> from agentinsight.analysis.cost import example_spans
    >>> t = cost_table(example_spans(), by=["model"])
    >>> t[["model", "calls", "cost_usd"]].round(5).values.tolist()
    [['gpt-4o', 1, 0.01125], ['gpt-4o-mini', 1, 0.0006]]
    """
    names = _as_by(by)
    priced = _usage_frame(spans_or_priced, prices)
    rows = _dimensions(priced, names)
    table = _aggregate(rows, names, _is_spans(priced))
    note = _note(rows)
    if "task_type" in names and table["task_type"].eq(_UNKNOWN).any():
        note = (f"{_UNKNOWN} task type: traces whose spans carry no task type attribute "
                f"(and no agent to stand for one). {note}").strip()
    return _table(table, f"Cost by {', '.join(names) or 'total'}", note)


def cost_from_token_usage(
    metrics: pd.DataFrame, by: str | Sequence[str] = ("agent", "model"), *, prices: Any = None
) -> CostTable:
    """:func:`cost_table` from Prometheus token counters (a source's ``token_usage`` frame).

    >>> from agentinsight.frames import metrics_frame
    >>> m = metrics_frame([0.0, 0.0], "llm_tokens_used_total", [1e6, 1e5],
    ...                   {"agent": ["a", "a"], "model": ["gpt-4o"] * 2,
    ...                    "token_type": ["input", "output"]})
    >>> cost_from_token_usage(m)[["agent", "model", "tokens", "cost_usd"]].values.tolist()
    [['a', 'gpt-4o', 1100000.0, 3.5]]
    """
    return cost_table(price_token_usage(metrics, prices=prices), by)


def unpriced_usage(spans_or_priced: pd.DataFrame, *, prices: Any = None) -> CostTable:
    """What could not be priced, and why: calls and tokens per (provider, model, reason).

    >>> from agentinsight.analysis.cost import example_spans
    >>> spans = example_spans()
    >>> spans.loc[spans["span_id"] == "b2", "model"] = "in-house-llm"
    >>> unpriced_usage(spans)[["model", "calls", "tokens"]].values.tolist()
    [['in-house-llm', 1, 3500.0]]
    """
    priced = _usage_frame(spans_or_priced, prices)
    rows = _dimensions(priced, [])
    rows = rows.loc[~rows["priced"].to_numpy(dtype=bool)]
    rows = rows.assign(reason=rows["unpriced_reason"], calls=1,
                       tokens=rows["input_tokens"] + rows["output_tokens"])
    for col in ("provider", "model", "reason"):
        rows[col] = rows[col].astype(object).where(rows[col].notna(), _UNKNOWN)
    grouped = rows.groupby(["provider", "model", "reason"], sort=False)
    table = grouped[["calls", "input_tokens", "output_tokens", "tokens"]].sum()
    table["first_seen"] = grouped["_time"].min()
    table["last_seen"] = grouped["_time"].max()
    table = table.sort_values("tokens", ascending=False).reset_index()
    if not _is_spans(priced):
        table["calls"] = np.nan
    result = _table(table, "Unpriced usage (not included in any cost)")
    result.attrs["empty"] = "Every LLM call in the period was priced: no unpriced usage."
    return result


def _spans_only(frame: pd.DataFrame, what: str) -> None:
    if not _is_spans(frame):
        raise SchemaError(f"{what} needs a spans frame (traces), not token counters")


def _trace_usage(priced: pd.DataFrame) -> pd.DataFrame:
    """Per-trace usage and cost next to the trace's task root (see ``traces_frame``)."""
    forest = SpanForest(priced, cycles="break")
    codes = forest.trace_code
    traces = traces_frame(priced, forest)
    bill = priced["billable"].to_numpy(dtype=bool)
    ok = bill & priced["priced"].to_numpy(dtype=bool)
    tokens = (priced["input_tokens"].fillna(0) + priced["output_tokens"].fillna(0)).to_numpy()
    size = len(traces)
    traces["calls"] = np.bincount(codes[bill], minlength=size)
    traces["tokens"] = np.bincount(codes[bill], weights=tokens[bill], minlength=size)
    traces["unpriced_calls"] = np.bincount(codes[bill & ~ok], minlength=size)
    spent = np.bincount(codes[ok], weights=priced["cost_usd"].to_numpy()[ok], minlength=size)
    priced_calls = traces["calls"] - traces["unpriced_calls"]
    # no LLM usage at all is truly free; usage that is all unpriced is unknown, not $0
    traces["cost_usd"] = np.where((priced_calls > 0) | (traces["calls"] == 0), spent, np.nan)
    return traces


def top_traces(spans_or_priced: pd.DataFrame, n: int = 10, *, prices: Any = None) -> CostTable:
    """The ``n`` most expensive traces, with their task, root agent, calls, tokens and tools.

    >>> from agentinsight.analysis.cost import example_spans
    >>> top_traces(example_spans(), 1)[["trace_id", "calls", "cost_usd"]].round(5).values.tolist()
    [['t1', 2, 0.01185]]
    """
    if not isinstance(n, int) or n < 1:
        raise ConfigurationError(f"n: expected a positive int, got {n!r}")
    priced = _usage_frame(spans_or_priced, prices)
    _spans_only(priced, "top_traces")
    traces = _trace_usage(priced).sort_values("cost_usd", ascending=False, na_position="last")
    cols = ["trace_id", "root_name", "agent", "task_type", "start", "duration_ms", "status",
            "calls", "tokens", "cost_usd", "unpriced_calls", "tool_chain"]
    return _table(traces[cols].head(n).reset_index(drop=True), f"Top {n} traces by cost",
                  _note(_dimensions(priced, [])))


def cost_per_successful_task(
    spans_or_priced: pd.DataFrame, by: str | Sequence[str] = ("task_type",), *,
    prices: Any = None,
) -> CostTable:
    """What one successful task costs: all spend (failed tasks included) / successful tasks.

    A task is a trace; it succeeded when its top-most ``task`` span (else ``invoke_agent``
    span, else root span) has no error status. ``by``: ``task_type``, ``agent`` (root agent),
    ``tool_chain``, ``root_name``, ``day``, ``week``, ``month``.

    >>> from agentinsight.analysis.cost import example_spans
    >>> t = cost_per_successful_task(example_spans())
    >>> t[["task_type", "tasks", "cost_per_successful_task_usd"]].round(5).values.tolist()
    [['research', 1, 0.01185]]
    """
    names = _as_by(by)
    priced = _usage_frame(spans_or_priced, prices)
    _spans_only(priced, "cost_per_successful_task")
    traces = _trace_usage(priced)
    for name in names:
        if name in _TIME_DIMS:
            traces[name] = traces["start"].dt.tz_localize(None).dt.to_period(
                _TIME_DIMS[name]).dt.start_time.dt.tz_localize("UTC")
        elif name not in traces.columns:
            raise ConfigurationError(f"by: unknown task dimension {name!r}; use task_type, "
                                     "agent, tool_chain, root_name, day, week or month")
    grouped = traces.assign(tasks=1).groupby(names or (lambda _: "total"), sort=False)
    table = grouped[["tasks", "success", "calls", "unpriced_calls"]].sum()
    table = table.rename(columns={"success": "successful_tasks"})
    table["success_rate"] = table["successful_tasks"] / table["tasks"]
    table["cost_usd"] = grouped["cost_usd"].sum(min_count=1)
    table["cost_per_task_usd"] = table["cost_usd"] / table["tasks"]
    table["cost_per_successful_task_usd"] = table["cost_usd"] / table["successful_tasks"].where(
        table["successful_tasks"] > 0)
    table = table.sort_values("cost_usd", ascending=False, na_position="last")
    note = _note(_dimensions(priced, []))
    if "task_type" in names and (table.index == _UNKNOWN).any():
        idle = table.loc[table.index == _UNKNOWN, "calls"].sum() == 0
        note = (f"{_UNKNOWN} task type: traces whose spans carry no task type and no agent "
                f"(e.g. API requests){', which made no LLM call' if idle else ''}. "
                f"{note}").strip()
    return _table(table.reset_index(drop=not names), "Cost per successful task", note)


def cache_savings(
    spans_or_priced: pd.DataFrame, by: str | Sequence[str] = ("model",), *, prices: Any = None
) -> CostTable:
    """What prompt caching saved: cache reads at the cache rate instead of the full input rate,
    less what cache writes cost above the input rate.

    >>> from agentinsight.analysis.cost import example_spans
    >>> t = cache_savings(example_spans())
    >>> t[["model", "cache_read_tokens", "net_savings_usd"]].round(6).values.tolist()[0]
    ['gpt-4o', 1000.0, 0.00125]
    """
    names = _as_by(by)
    priced = _usage_frame(spans_or_priced, prices)
    rows = _dimensions(priced, names)
    grouped = rows.groupby(names or (lambda _: "total"), dropna=False, sort=False)
    table = grouped[["input_tokens", "cache_read_tokens", "cache_write_tokens"]].sum()
    for col in ("cost_usd", "cache_savings_usd", "cache_write_premium_usd"):
        table[col] = grouped[col].sum(min_count=1)
    table["net_savings_usd"] = table["cache_savings_usd"] - table["cache_write_premium_usd"]
    table["cost_without_cache_usd"] = table["cost_usd"] + table["net_savings_usd"]
    table["savings_ratio"] = table["net_savings_usd"] / table["cost_without_cache_usd"]
    table["cache_hit_ratio"] = table["cache_read_tokens"] / table["input_tokens"].where(
        table["input_tokens"] > 0)
    table = table.sort_values("net_savings_usd", ascending=False, na_position="last")
    return _table(table.reset_index(drop=not names), "Prompt-cache savings", _note(rows))


def _as_of(rows: pd.DataFrame, now: Any) -> pd.Timestamp:
    if now is None:
        return rows["_time"].max() if len(rows) else pd.Timestamp.now(tz="UTC")
    try:
        return utc_timestamp(now)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"now: not a timestamp: {now!r}") from exc


def _month_start(now: pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(year=now.year, month=now.month, day=1, tz="UTC")


def month_end_projection(
    spans_or_priced: pd.DataFrame, *, by: str | Sequence[str] = (), now: Any = None,
    window: str = "7D", prices: Any = None,
) -> CostTable:
    """Month-to-date spend plus the run rate of the last ``window`` times the days left.

    ``now`` defaults to the latest usage in the data (so a report over yesterday's data is
    reproducible). The run rate uses the data's own span when it is shorter than ``window``.

    >>> from agentinsight.analysis.cost import example_spans
    >>> t = month_end_projection(example_spans(), now="2026-01-11T00:00:00Z")
    >>> t[["month_to_date_usd", "days_remaining"]].round(5).values.tolist()
    [[0.01185, 21.0]]
    """
    names = _as_by(by)
    priced = _usage_frame(spans_or_priced, prices)
    rows = _dimensions(priced, names)
    now = _as_of(rows, now)
    start = _month_start(now)
    end = start + pd.offsets.MonthBegin(1)
    try:
        span = pd.Timedelta(window)
    except ValueError as exc:
        raise ConfigurationError(f"window: not a duration: {window!r}") from exc
    first = rows["_time"].min() if len(rows) else now
    recent_from = max(now - span, first)
    days = (now - recent_from) / pd.Timedelta(days=1)
    cost = rows["cost_usd"].fillna(0.0)
    rows = rows.assign(
        month_to_date_usd=cost.where((rows["_time"] >= start) & (rows["_time"] <= now), 0.0),
        recent=cost.where((rows["_time"] >= recent_from) & (rows["_time"] <= now), 0.0),
        unpriced_tokens=np.where(rows["priced"], 0.0, rows["input_tokens"] + rows["output_tokens"]),
    )
    grouped = rows.groupby(names or (lambda _: "total"), dropna=False, sort=False)
    table = grouped[["month_to_date_usd", "recent", "unpriced_tokens"]].sum()
    table["run_rate_usd_per_day"] = table.pop("recent") / days if days > 0 else np.nan
    table.insert(0, "month", start)
    table.insert(1, "as_of", now)
    table["window_days"] = days
    table["days_remaining"] = (end - now) / pd.Timedelta(days=1)
    table["projected_month_usd"] = (table["month_to_date_usd"]
                                    + table["run_rate_usd_per_day"] * table["days_remaining"])
    table = table.sort_values("projected_month_usd", ascending=False)
    note = _note(rows)
    if days < 1:
        note = (f"Run rate from only {days * 24:.1f} h of data: a rough extrapolation. "
                + note).strip()
    return _table(table.reset_index(drop=not names), f"Month-end projection ({start:%Y-%m})",
                  note)


def budget_burn(
    spans_or_priced: pd.DataFrame, budget_usd: float, *, period: str = "month", now: Any = None,
    prices: Any = None,
) -> CostTable:
    """Spend against a budget for the current ``period`` (``day``, ``week`` or ``month``).

    ``burn_rate`` is the share of budget spent over the share of the period elapsed: above 1
    the budget runs out before the period ends, at ``exhausted_at`` (at the period's average
    rate so far; the actual time when already spent).

    >>> from agentinsight.analysis.cost import example_spans
    >>> t = budget_burn(example_spans(), 0.015, now="2026-01-01T12:00:00Z", period="day")
    >>> t[["spent_usd", "burn_rate", "status"]].round(3).values.tolist()
    [[0.012, 1.58, 'on course to overspend']]
    """
    if isinstance(budget_usd, bool) or not isinstance(budget_usd, int | float) or not (
            np.isfinite(budget_usd) and budget_usd > 0):
        raise ConfigurationError(f"budget_usd: expected a positive number, got {budget_usd!r}")
    if period not in ("day", "week", "month"):
        raise ConfigurationError(f"period: expected 'day', 'week' or 'month', got {period!r}")
    priced = _usage_frame(spans_or_priced, prices)
    rows = _dimensions(priced, [])
    now = _as_of(rows, now)
    if period == "month":
        start = _month_start(now)
        end = start + pd.offsets.MonthBegin(1)
    else:
        start = now.floor("D") - (pd.Timedelta(days=now.dayofweek) if period == "week"
                                  else pd.Timedelta(0))
        end = start + pd.Timedelta(days=7 if period == "week" else 1)
    inside = rows.loc[(rows["_time"] >= start) & (rows["_time"] <= now)].sort_values("_time")
    spent = float(inside["cost_usd"].sum())
    elapsed = (now - start) / (end - start)
    burn = (spent / budget_usd) / elapsed if elapsed > 0 else np.nan
    exhausted = pd.NaT
    if spent >= budget_usd:
        crossed = inside["cost_usd"].fillna(0.0).cumsum() >= budget_usd
        exhausted = inside.loc[crossed.to_numpy(), "_time"].iloc[0]
    elif spent > 0:
        eta = now + (budget_usd - spent) / spent * (now - start)
        exhausted = eta if eta < end else pd.NaT
    status = ("over budget" if spent >= budget_usd else
              "on course to overspend" if burn > 1 else "within budget")
    table = pd.DataFrame([{
        "period_start": start, "period_end": end, "as_of": now, "budget_usd": float(budget_usd),
        "spent_usd": spent, "remaining_usd": budget_usd - spent,
        "spent_fraction": spent / budget_usd, "elapsed_fraction": elapsed, "burn_rate": burn,
        "projected_usd": spent / elapsed if elapsed > 0 else np.nan,
        "exhausted_at": exhausted, "status": status,
        "unpriced_calls": int((~inside["priced"].to_numpy(dtype=bool)).sum()),
    }])
    return _table(table, f"Budget burn ({period} from {start:%Y-%m-%d})", _note(inside))


def reconcile(
    spans_or_priced: pd.DataFrame, token_usage: pd.DataFrame,
    by: str | Sequence[str] = ("agent", "model"), *, prices: Any = None,
) -> CostTable:
    """Spans against token counters for the same period: token and cost differences and the
    trace sampling coverage (span tokens / counter tokens; the counters see every call).

    >>> from agentinsight.analysis.cost import example_spans
    >>> from agentinsight.frames import metrics_frame
    >>> m = metrics_frame([0.0] * 2, "llm_tokens_used_total", [4000.0, 1000.0],
    ...                   {"model": ["gpt-4o"] * 2, "token_type": ["input", "output"]})
    >>> reconcile(example_spans(), m, by="model")[["model", "coverage"]].values.tolist()[0]
    ['gpt-4o', 0.7]
    """
    names = _as_by(by)
    if not names:
        raise ConfigurationError("by: reconcile needs at least one label, e.g. 'model'")
    spans = cost_table(spans_or_priced, names, prices=prices)
    counters = cost_table(_usage_frame(token_usage, prices), names)
    keep = [*names, "tokens", "cost_usd"]
    table = spans[keep + ["calls"]].merge(counters[keep], on=names, how="outer",
                                           suffixes=("_spans", "_counters"))
    table = table.rename(columns={"tokens_spans": "span_tokens",
                                  "tokens_counters": "counter_tokens",
                                  "cost_usd_spans": "span_cost_usd",
                                  "cost_usd_counters": "counter_cost_usd",
                                  "calls": "span_calls"})
    table[["span_tokens", "counter_tokens"]] = table[["span_tokens", "counter_tokens"]].fillna(0)
    table["token_difference"] = table["counter_tokens"] - table["span_tokens"]
    table["coverage"] = table["span_tokens"] / table["counter_tokens"].where(
        table["counter_tokens"] > 0)
    table["cost_difference_usd"] = table["counter_cost_usd"] - table["span_cost_usd"]
    table = table.sort_values("counter_tokens", ascending=False).reset_index(drop=True)
    return _table(table, "Spans vs counters",
                  "Coverage below 100% is usually trace sampling; above it, spans outside the "
                  "counters' time range or double-counted spans.")
