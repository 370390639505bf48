"""The opt-in cost counter: token usage priced with genai-prices at the call's time.

genai-prices is imported here only, and this module only when pricing is on
(``emit.configure(cost=True)`` or ``AGENTINSIGHT_COST=1``), so the default emit path stays light.

The price of a model is resolved once per (provider, model) and price period, then each call is
one comparison and a few multiplications. A period is the stretch of time over which every
constraint of the model's prices (a start date, a daily off-peak window) stays as it was; when a
call falls outside it, the price is resolved again. The arithmetic follows
``ModelPrice.calc_price`` the way :mod:`agentinsight.analysis.cost` does, so the counter and
``price_spans`` agree on the same calls:

* ``input`` counts all input tokens, cache included; a cache read or write is billed at its own
  rate when the model prices it and otherwise stays in ``input``; likewise reasoning in output.
* Tiered prices are cliffs on the request's input tokens; per-request fees are counted under
  ``token_type="request"``.
* A model genai-prices does not know, or a call whose tokens have no price, adds its tokens to
  ``llm_unpriced_tokens_total`` instead of adding $0.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time
from typing import Any

import genai_prices
from genai_prices import data_snapshot
from genai_prices.data_snapshot import find_provider_by_id
from genai_prices.types import (
    ModelPrice,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
)

from agentinsight import semconv
from agentinsight.emit._usage import TokenUsage

VERSION: str = genai_prices.__version__

_DAY_NS = 86_400 * 10**9
_ALWAYS = (-(2**63), 2**63 - 1)
_PRICE_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok",
               "output_reasoning_mtok", "requests_kcount")


def _day_start_ns(value: date) -> int:
    return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()) * 10**9


def _tod_ns(value: time) -> int:
    if value.tzinfo is not None:
        value = datetime.combine(date(1970, 1, 1), value).astimezone(UTC).time()
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 10**9 + value.microsecond * 1000


def _period(info: Any, ts_ns: int) -> tuple[int, int]:
    """The span of time around ``ts_ns`` in which no price constraint of ``info`` changes."""
    prices = info.prices
    if not isinstance(prices, list):
        return _ALWAYS
    lo, hi = _ALWAYS
    day = ts_ns - ts_ns % _DAY_NS
    for conditional in prices:
        constraint = conditional.constraint
        if constraint is None:
            continue
        if isinstance(constraint, StartDateConstraint):
            edge = _day_start_ns(constraint.start_date)
            edges = [edge]
        elif isinstance(constraint, TimeOfDateConstraint):
            edges = [day + off + d for d in (-_DAY_NS, 0, _DAY_NS)
                     for off in (_tod_ns(constraint.start_time), _tod_ns(constraint.end_time))]
        else:  # a constraint this module does not know: resolve again for every call
            return ts_ns, ts_ns + 1
        for edge in edges:
            if edge <= ts_ns:
                lo = max(lo, edge)
            else:
                hi = min(hi, edge)
    return lo, hi


def _rate(price: Any, request_input: int) -> float | None:
    """USD per million tokens (or per thousand requests) for one request; tiers are cliffs."""
    if price is None:
        return None
    if isinstance(price, TieredPrices):
        rate = float(price.base)
        for tier in sorted(price.tiers, key=lambda t: t.start):
            if request_input > tier.start:
                rate = float(tier.price)
        return rate
    return float(price)


class _Rates:
    """One model's prices for one period, as floats (tiers kept for the per-call cliff)."""

    __slots__ = ("fixed", "hi", "lo", "prices")

    def __init__(self, model_price: ModelPrice, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        self.prices = tuple(getattr(model_price, key, None) for key in _PRICE_KEYS)
        tiered = any(isinstance(v, TieredPrices) for v in self.prices)
        # Without tiers the rates are the same for every call: converted once.
        self.fixed = None if tiered else tuple(None if v is None else float(v)
                                               for v in self.prices)

    def cost(self, usage: TokenUsage) -> list[tuple[str, float]] | None:
        """USD by token type, or ``None`` when the call's tokens have no price."""
        inp, outp = usage.input_tokens, usage.output_tokens
        cread, cwrite, reason = (usage.cache_read_tokens, usage.cache_write_tokens,
                                 usage.reasoning_tokens)
        rates = self.fixed
        if rates is None:
            rates = tuple(_rate(v, inp) for v in self.prices)
        r_in, r_out, r_cr, r_cw, r_rs, r_req = rates
        if (r_in is None and r_out is None) or (
                r_in is None and r_cr is None and r_cw is None and inp > 0):
            return None
        if r_out is None and r_rs is None and outp > 0:
            return None
        in_leaf = inp - (cread if r_cr is not None else 0) - (cwrite if r_cw is not None else 0)
        out_leaf = outp - (reason if r_rs is not None else 0)
        parts = [("input", in_leaf * (r_in or 0.0) / 1e6),
                 ("output", out_leaf * (r_out or 0.0) / 1e6)]
        if cread and r_cr is not None:
            parts.append(("cache_read", cread * r_cr / 1e6))
        if cwrite and r_cw is not None:
            parts.append(("cache_write", cwrite * r_cw / 1e6))
        if reason and r_rs is not None:
            parts.append(("reasoning", reason * r_rs / 1e6))
        if r_req:
            parts.append(("request", r_req / 1000))
        return parts


class Pricer:
    """Prices calls and counts them in ``llm_cost_usd_total`` / ``llm_unpriced_tokens_total``."""

    def __init__(self, cost_family: Any, unpriced_family: Any) -> None:
        self.cost = cost_family
        self.unpriced = unpriced_family
        self._models: dict[tuple[str, str], Any] = {}  # genai-prices ModelInfo, or None
        self._rates: dict[tuple[str, str], _Rates] = {}
        self._lock = threading.Lock()

    def _resolve(self, provider: str, model: str, ts_ns: int) -> _Rates | None:
        key = (provider, model)
        with self._lock:
            found = self._models.get(key, False)
            if found is False:
                found = self._models[key] = self._lookup(provider, model)
                if len(self._models) > 4096:
                    self._models.clear()
                    self._rates.clear()
        if found is None:
            return None
        info = found
        lo, hi = _period(info, ts_ns)
        when = datetime.fromtimestamp(ts_ns / 1e9, tz=UTC)
        rates = _Rates(info.get_prices(when), lo, hi)
        self._rates[key] = rates
        return rates

    @staticmethod
    def _lookup(provider: str, model: str) -> Any:
        prov = semconv.price_provider_key(provider)
        name = model.strip().lower()
        if not name:
            return None
        snapshot = data_snapshot.get_snapshot()
        if prov is not None and find_provider_by_id(snapshot.providers, prov) is None:
            return None
        try:
            return snapshot.find_provider_model(name, None, prov, None)[1]
        except LookupError:
            return None

    def record(self, agent: str, provider: str, model: str, usage: TokenUsage,
               ts_ns: int) -> None:
        """Count one call's cost (or its tokens as unpriced) at time ``ts_ns`` (epoch ns)."""
        rates = self._rates.get((provider, model))
        if rates is None or not rates.lo <= ts_ns < rates.hi:
            rates = self._resolve(provider, model, ts_ns)
        parts = rates.cost(usage) if rates is not None else None
        if parts is None:
            for token_type, count in (("input", usage.input_tokens),
                                      ("output", usage.output_tokens),
                                      ("cache_read", usage.cache_read_tokens),
                                      ("cache_write", usage.cache_write_tokens),
                                      ("reasoning", usage.reasoning_tokens)):
                if count:
                    child = self.unpriced.child((agent, provider, model, token_type))
                    if child is None:
                        return
                    child.inc(count)
            return
        for token_type, usd in parts:
            if usd:
                child = self.cost.child((agent, provider, model, token_type))
                if child is None:
                    return
                child.inc(usd)
