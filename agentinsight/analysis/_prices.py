"""Vectorised token pricing: genai-prices' price data, a user price table, numpy arithmetic.

``genai_prices.calc_price`` prices one call at a time with ``Decimal`` arithmetic; over a million
spans that takes minutes. Here every row is first assigned a *price key* — (provider, model,
request context, price period) — and each distinct key is resolved once through genai-prices'
own lookup (``find_provider_model`` and ``ModelInfo.get_prices``). The arithmetic then runs in
numpy over all rows sharing a key, following the rules of ``ModelPrice.calc_price``:

* genai-prices counts ``input_tokens`` *including* cache reads and cache writes, the same as the
  OpenTelemetry GenAI convention, and ``output_reasoning_tokens`` inside ``output_tokens``. A
  part is billed at its own rate only when the model prices it; otherwise it stays in its parent
  and is billed at the parent's rate (``genai_prices.decompose``), so nothing is billed twice.
* Tiered prices are cliffs: when a request's total input tokens exceed a tier's start, the tier
  price applies to all of that unit's tokens.
* Price periods: ``ConditionalPrice`` constraints (a start date, or a daily time window such as
  DeepSeek's off-peak hours) and ``PriceVariant`` constraints are evaluated per row; rows with the
  same set of active constraints share one ``ModelPrice``.
* Request context (``processing=batch``, ``service_tier=...``) selects price variants, exactly as
  ``calc_price(..., price_context=...)`` does (variants are ignored for a model borrowed from a
  fallback provider).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import genai_prices
import numpy as np
import pandas as pd
from genai_prices import data_snapshot
from genai_prices.data_snapshot import find_provider_by_id
from genai_prices.types import StartDateConstraint, TieredPrices, TimeOfDateConstraint

from agentinsight.exceptions import ConfigurationError
from agentinsight.semconv import price_provider_key

__all__ = [
    "GENAI_PRICES_VERSION",
    "PRICE_COLUMNS",
    "PricedUsage",
    "normalise_price_table",
    "price_usage",
]

GENAI_PRICES_VERSION: str = genai_prices.__version__

# User price-table columns (USD per million tokens) and the genai-prices price key each fills.
PRICE_COLUMNS: dict[str, str] = {
    "input": "input_mtok",
    "output": "output_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "reasoning": "output_reasoning_mtok",
}
_PRICE_KEYS = (*PRICE_COLUMNS.values(), "requests_kcount")

_DAY_NS = 86_400 * 10**9


@dataclass
class PricedUsage:
    """Per-row pricing results, aligned with the rows that were priced."""

    input_cost: np.ndarray
    output_cost: np.ndarray
    request_cost: np.ndarray
    cache_savings: np.ndarray
    cache_write_premium: np.ndarray
    priced: np.ndarray
    source: np.ndarray
    reason: np.ndarray

    @property
    def cost(self) -> np.ndarray:
        """Total cost per row: input + output + per-request fees (NaN where unpriced)."""
        return self.input_cost + self.output_cost + self.request_cost


def provider_key(provider: Any) -> str | None:
    """Lower-cased provider name with OpenTelemetry aliases mapped to genai-prices ids."""
    return price_provider_key(provider)


# --- user price table ----------------------------------------------------------------------------


_UserTable = dict[tuple[str | None, str], tuple[np.ndarray, list[dict[str, Any]]]]


def normalise_price_table(prices: Any) -> _UserTable:
    """Turn a user price table into ``{(provider, model): (valid_from_ns, [price dict, ...])}``.

    ``prices`` is a DataFrame (or a list of row dicts) with columns ``provider`` (optional; empty
    or ``"*"`` matches any provider), ``model``, USD-per-million-token prices ``input``,
    ``output`` and optionally ``cache_read``, ``cache_write``, ``reasoning`` (genai-prices names
    such as ``input_mtok`` are accepted too), and an optional ``valid_from`` timestamp; or a dict
    ``{"provider/model" or (provider, model) or model: {"input": ..., ...} or [rows]}``.

    >>> table = normalise_price_table({"acme/llm-1": {"input": 1.0, "output": 2.0}})
    >>> list(table)
    [('acme', 'llm-1')]
    """
    if prices is None:
        return {}
    if isinstance(prices, Mapping):
        records: list[dict[str, Any]] = []
        for key, value in prices.items():
            if isinstance(key, tuple):
                provider, model = key
            else:
                provider, _, model = str(key).rpartition("/")
            for row in value if isinstance(value, list | tuple) else [value]:
                if not isinstance(row, Mapping):
                    raise ConfigurationError(
                        f"prices[{key!r}]: expected a dict of prices per million tokens, "
                        f"got {type(row).__name__}"
                    )
                records.append({"provider": provider or None, "model": model, **row})
        frame = pd.DataFrame(records)
    elif isinstance(prices, pd.DataFrame):
        frame = prices
    elif isinstance(prices, list):
        frame = pd.DataFrame(prices)
    else:
        raise ConfigurationError(
            f"prices: expected a DataFrame, a list of dicts or a dict, got {type(prices).__name__}"
        )
    frame = frame.rename(columns={v: k for k, v in PRICE_COLUMNS.items()})
    if "model" not in frame.columns:
        raise ConfigurationError(f"prices: missing column 'model' (columns: {list(frame.columns)})")
    if not {"input", "output"} & set(frame.columns):
        raise ConfigurationError("prices: needs at least an 'input' or 'output' price column")
    numeric: dict[str, np.ndarray] = {}
    for col in PRICE_COLUMNS:
        if col not in frame.columns:
            continue
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64")
        bad = (np.isnan(values) & frame[col].notna().to_numpy()) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ConfigurationError(
                f"prices: column {col!r} must hold non-negative USD per million tokens; "
                f"row {row} has {frame[col].iloc[row]!r}"
            )
        numeric[col] = values
    if "valid_from" in frame.columns:
        try:
            valid = pd.to_datetime(frame["valid_from"], utc=True)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"prices: column 'valid_from' is not a timestamp: {exc}"
            ) from exc
        valid_ns = valid.to_numpy(dtype="datetime64[ns]").astype("int64")
        valid_ns = np.where(valid.isna().to_numpy(), np.iinfo("int64").min, valid_ns)
    else:
        valid_ns = np.full(len(frame), np.iinfo("int64").min, dtype="int64")
    providers = frame["provider"] if "provider" in frame.columns else [None] * len(frame)
    grouped: dict[tuple[str | None, str], list[tuple[int, dict[str, Any]]]] = {}
    for i, (provider, model) in enumerate(zip(providers, frame["model"], strict=True)):
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(f"prices: column 'model' row {i} is empty or not a string")
        entry = {
            PRICE_COLUMNS[col]: (None if np.isnan(v[i]) else Decimal(repr(float(v[i]))))
            for col, v in numeric.items()
        }
        grouped.setdefault((provider_key(provider), model.strip().lower()), []).append(
            (int(valid_ns[i]), entry)
        )
    table: _UserTable = {}
    for key, rows in grouped.items():
        rows.sort(key=lambda r: r[0])
        table[key] = (np.array([r[0] for r in rows], dtype="int64"), [r[1] for r in rows])
    return table


# --- genai-prices lookup -------------------------------------------------------------------------


def _lookup(provider: str | None, model: str) -> tuple[Any, Any, str]:
    """(provider, model_info, "") from genai-prices, or (None, None, reason) when unknown."""
    snapshot = data_snapshot.get_snapshot()
    if provider is not None and find_provider_by_id(snapshot.providers, provider) is None:
        return None, None, f"unknown provider {provider!r}"
    try:
        found_provider, info = snapshot.find_provider_model(model, None, provider, None)
    except LookupError:
        where = f" for provider {provider!r}" if provider else ""
        return None, None, f"unknown model {model!r}{where}"
    return found_provider, info, ""


def _constraint_flags(constraint: Any, ts: np.ndarray) -> np.ndarray:
    """Vectorised ``constraint.active(timestamp)`` over epoch-nanosecond timestamps."""
    if isinstance(constraint, StartDateConstraint):
        return ts >= pd.Timestamp(constraint.start_date, tz="UTC").value
    if isinstance(constraint, TimeOfDateConstraint):
        tod = ts % _DAY_NS
        start, end = _tod_ns(constraint.start_time), _tod_ns(constraint.end_time)
        if end < start:
            return (tod >= start) | (tod < end)
        return (tod >= start) & (tod < end)
    uniq, inverse = np.unique(ts, return_inverse=True)
    flags = np.array([bool(constraint.active(_to_datetime(t))) for t in uniq])
    return flags[inverse]


def _tod_ns(value: time) -> int:
    if value.tzinfo is not None:
        value = datetime.combine(datetime(1970, 1, 1).date(), value).astimezone(UTC).time()
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 10**9 + value.microsecond * 1000


def _to_datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(int(ns) // 10**9, tz=UTC).replace(
        microsecond=(int(ns) % 10**9) // 1000
    )


def _genai_periods(
    info: Any, provider: Any, context: dict[str, str], ts: np.ndarray
) -> tuple[np.ndarray, list[tuple[dict[str, Any], bool]]]:
    """Split rows into price periods: (period per row, [(prices, context changed them)])."""
    use_context = bool(context) and any(info is m for m in provider.models)
    constraints = []
    if isinstance(info.prices, list):
        constraints += [c.constraint for c in info.prices if c.constraint is not None]
    if use_context:
        constraints += [
            v.constraint
            for v in info.price_variants or ()
            if v.constraint is not None and all(context.get(k) == w for k, w in v.when.items())
        ]
    code = np.zeros(len(ts), dtype="int64")
    for bit, constraint in enumerate(constraints[:62]):
        code |= _constraint_flags(constraint, ts).astype("int64") << bit
    uniq, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    periods = []
    for i in first:
        when = _to_datetime(ts[i])
        model_price = info.get_prices(when, context if use_context else None)
        chosen = {key: getattr(model_price, key, None) for key in _PRICE_KEYS}
        standard = info.get_prices(when)
        applied = use_context and any(
            chosen[key] != getattr(standard, key, None) for key in _PRICE_KEYS
        )
        periods.append((chosen, applied))
    return inverse.reshape(-1), periods


# --- arithmetic ----------------------------------------------------------------------------------


def _rate(price: Any, tier_input: np.ndarray) -> np.ndarray | float | None:
    if price is None:
        return None
    if isinstance(price, TieredPrices):
        rate = np.full(len(tier_input), float(price.base))
        for tier in sorted(price.tiers, key=lambda t: t.start):
            rate = np.where(tier_input > tier.start, float(tier.price), rate)
        return rate
    return float(price)


def _apply(
    out: PricedUsage,
    rows: np.ndarray,
    prices: dict[str, Any],
    tokens: dict[str, np.ndarray],
    per_request: bool,
    source: str,
) -> None:
    """Fill ``out`` at ``rows`` using one resolved set of prices (USD per million tokens)."""
    inp, outp = tokens["input"][rows], tokens["output"][rows]
    cread, cwrite, reason = tokens["cache_read"][rows], tokens["cache_write"][rows], tokens[
        "reasoning"
    ][rows]
    tier_input = inp if per_request else np.zeros(len(rows))
    r_in = _rate(prices.get("input_mtok"), tier_input)
    r_out = _rate(prices.get("output_mtok"), tier_input)
    r_cr = _rate(prices.get("cache_read_mtok"), tier_input)
    r_cw = _rate(prices.get("cache_write_mtok"), tier_input)
    r_rs = _rate(prices.get("output_reasoning_mtok"), tier_input)
    no_in = r_in is None and r_cr is None and r_cw is None
    if (r_in is None and r_out is None) or (no_in and (inp > 0).any()):
        missing = "input" if r_out is not None else "token"
        out.reason[rows] = f"no {missing} price for {source.rpartition(': ')[2]}"
        return
    if r_out is None and r_rs is None:
        unpriced = outp > 0
        out.reason[rows[unpriced]] = f"no output price for {source.rpartition(': ')[2]}"
        rows, keep = rows[~unpriced], ~unpriced
        inp, outp, cread, cwrite, reason, tier_input = (
            a[keep] for a in (inp, outp, cread, cwrite, reason, tier_input)
        )
        r_in, r_cr, r_cw = (r[keep] if isinstance(r, np.ndarray) else r for r in (r_in, r_cr, r_cw))
    full_in = 0.0 if r_in is None else r_in
    in_leaf = inp - (cread if r_cr is not None else 0.0) - (cwrite if r_cw is not None else 0.0)
    in_cost = in_leaf * full_in
    savings = np.zeros(len(rows))
    premium = np.zeros(len(rows))
    if r_cr is not None:
        in_cost = in_cost + cread * r_cr
        savings = cread * (full_in - r_cr)
    if r_cw is not None:
        in_cost = in_cost + cwrite * r_cw
        premium = cwrite * (r_cw - full_in)
    out_leaf = outp - (reason if r_rs is not None else 0.0)
    out_cost = out_leaf * (0.0 if r_out is None else r_out) + (
        reason * r_rs if r_rs is not None else 0.0)
    request_fee = prices.get("requests_kcount")
    out.input_cost[rows] = in_cost / 1e6
    out.output_cost[rows] = out_cost / 1e6
    if isinstance(request_fee, TieredPrices):
        request_fee = request_fee.base
    out.request_cost[rows] = float(request_fee) / 1000 if per_request and request_fee else 0.0
    out.cache_savings[rows] = savings / 1e6
    out.cache_write_premium[rows] = premium / 1e6
    out.priced[rows] = True
    out.source[rows] = source
    out.reason[rows] = ""


def _data_name() -> str:
    """``genai-prices 0.2.3``, or with the update date when the caller installed newer prices
    (``genai_prices.UpdatePrices``) so a table never claims the pinned data it did not use."""
    snapshot = data_snapshot.get_snapshot()
    name = f"genai-prices {GENAI_PRICES_VERSION}"
    if snapshot.from_auto_update:
        name += f" (prices updated {snapshot.timestamp:%Y-%m-%d %H:%M})"
    return name


def _parse_context(key: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in key.split(",") if part) if key else {}


def price_usage(
    provider: np.ndarray,
    model: np.ndarray,
    timestamp_ns: np.ndarray,
    context: np.ndarray,
    tokens: dict[str, np.ndarray],
    *,
    prices: Any = None,
    per_request: bool = True,
) -> PricedUsage:
    """Price rows of token usage; every array has one entry per row.

    ``provider``/``model`` are object arrays (``None`` allowed), ``timestamp_ns`` int64 epoch
    nanoseconds (UTC), ``context`` strings like ``"processing=batch"`` or ``""``, ``tokens`` float
    arrays ``input`` (all input, cache included), ``output`` (reasoning included), ``cache_read``,
    ``cache_write``, ``reasoning`` with no NaN. ``per_request=False`` marks rows that aggregate
    many calls (counter increments): tiers and per-request fees cannot apply, base rates are used.

    >>> z = np.zeros(1)
    >>> r = price_usage(np.array(["openai"], object), np.array(["gpt-4o"], object),
    ...                 np.array([1767225600 * 10**9]), np.array([""], object),
    ...                 {"input": np.array([1e6]), "output": z, "cache_read": z,
    ...                  "cache_write": z, "reasoning": z})
    >>> float(r.cost[0]), r.source[0].endswith("openai/gpt-4o")
    (2.5, True)
    """
    n = len(model)
    nan = np.full(n, np.nan)
    out = PricedUsage(
        nan.copy(), nan.copy(), nan.copy(), nan.copy(), nan.copy(),
        np.zeros(n, dtype=bool), np.full(n, None, dtype=object), np.full(n, "", dtype=object),
    )
    if n == 0:
        return out
    user = normalise_price_table(prices)
    # Normalise each distinct provider/model once, not once per row.
    prov_codes, prov_uniq = pd.factorize(np.asarray(provider, dtype=object))
    model_codes, model_uniq = pd.factorize(np.asarray(model, dtype=object))
    prov_names = np.array([provider_key(p) for p in prov_uniq] + [None], dtype=object)
    model_names = np.array(
        [m.strip().lower() if isinstance(m, str) and m.strip() else None for m in model_uniq]
        + [None], dtype=object)
    keys = pd.DataFrame({"p": prov_names[prov_codes], "m": model_names[model_codes],
                         "c": pd.Series(context, dtype=object).fillna("").to_numpy(object)})
    groups = keys.groupby(["p", "m", "c"], dropna=False, sort=False).indices
    for (prov, mod, ctx), rows in groups.items():
        prov = None if not isinstance(prov, str) else prov
        rows = np.asarray(rows)
        if not isinstance(mod, str):
            out.reason[rows] = "no model name"
            continue
        ts = timestamp_ns[rows]
        remaining = np.ones(len(rows), dtype=bool)
        entry = user.get((prov, mod)) or user.get((None, mod))
        if entry is None and prov is None:  # no provider on the span: a unique model name will do
            matches = [v for (p, m), v in user.items() if m == mod]
            entry = matches[0] if len(matches) == 1 else None
        if entry is None and prov is not None:
            found = _lookup(prov, mod)[0]
            if found is not None:
                entry = user.get((found.id, mod))
        if entry is not None:
            valid_from, rows_prices = entry
            period = np.searchsorted(valid_from, ts, side="right") - 1
            for p in np.unique(period[period >= 0]):
                sel = period == p
                label = f"user table: {prov + '/' if prov else ''}{mod}"
                _apply(out, rows[sel], rows_prices[p], tokens, per_request, label)
            remaining = period < 0
            if not remaining.any():
                continue
        gp_provider, info, reason = _lookup(prov, mod)
        sub = rows[remaining]
        if info is None:
            out.reason[sub] = reason
            continue
        ctx_dict = _parse_context(ctx)
        period_idx, periods = _genai_periods(info, gp_provider, ctx_dict, ts[remaining])
        label = f"{_data_name()}: {gp_provider.id}/{info.id}"
        for p, (price, applied) in enumerate(periods):
            text = f"{label} [{ctx}]" if applied else label
            _apply(out, sub[period_idx == p], price, tokens, per_request, text)
    return out
