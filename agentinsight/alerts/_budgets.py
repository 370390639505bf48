"""Spending budgets → Prometheus recording and alerting rules on ``llm_cost_usd_total``.

A budgets file (YAML) names what to watch, how much it may spend and over which period::

    currency: USD                  # the only currency the cost counter knows
    budgets:
      - name: coder                # unique; becomes the alerts' ``budget`` label
        agent: coder               # any of agent, provider, model ...
        amount: 300                # USD per period
        period: monthly            # the calendar month (UTC), or rolling: 7d, 30d ...
      - name: team-search
        labels: {team: search}     # ... and any label the series carry (team, tenant)
        amount: 2000
        period: monthly
      - name: gpt-4o-week
        model: gpt-4o
        amount: 150
        period: 7d
        fast_burn: 10              # optional: the burn rates that page and ticket
        slow_burn: 4

Per budget, the rules record (``budget`` label = the name; the budget's selectors as labels):

``budget:llm_cost_usd:rate5m`` … ``rate6h``, ``rate1d``
    spend rate in USD per second over the window;
``budget:llm_cost_usd:amount`` and ``budget:llm_cost_usd:allowance_rate``
    the budget, and the rate that spends exactly the budget over the period;
``budget:llm_cost_usd:burn_rate1h``
    spend rate over the budgeted rate (1 = on course to spend exactly the budget);
``budget:llm_cost_usd:spent``
    spend so far in the period, up to the last full hour (monthly budgets: since the 1st,
    00:00 UTC; rolling: the last N days), summed from the recorded daily and hourly rates, so
    it counts from when the rules started running (backfill older history with ``promtool tsdb
    create-blocks-from rules``);
``budget:llm_cost_usd:projected``
    projected spend at the end of the period: spent so far plus the last day's rate over the
    time left (rolling periods: the last day's rate over the whole period).

and alert, in the style of multi-window, multi-burn-rate SLO alerts (burn rate = spend rate /
(budget / period)):

``LLMBudgetFastBurn`` (severity critical: pages)
    burn rate over 1h **and** over 5m above ``fast_burn`` (default 14.4: 2 % of a 30-day budget
    in one hour);
``LLMBudgetSlowBurn`` (severity warning: a ticket)
    burn rate over 6h and over 30m above ``slow_burn`` (default 6: 5 % of a 30-day budget in
    six hours);
``LLMBudgetProjectedOverspend`` (severity warning)
    the projection is above the budget for ``projection_for`` (default 1h).

The short window makes an alert stop soon after the spending does; the long one keeps a short
spike from paging.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentinsight._fs import atomic_write
from agentinsight.exceptions import ConfigurationError

__all__ = [
    "BUDGET_ALERTS",
    "BUDGET_SERIES",
    "Budget",
    "load_budgets",
    "rules_from_budgets",
    "write_budget_rules",
]

#: The counter the budgets read (see agentinsight.catalog).
COST_METRIC = "llm_cost_usd_total"
_P = "budget:llm_cost_usd:"
#: rate windows recorded per budget
_WINDOWS = ("5m", "30m", "1h", "6h", "1d")
#: Every series the generated recording rules write.
BUDGET_SERIES = tuple(
    [f"{_P}rate{w}" for w in _WINDOWS]
    + [f"{_P}{n}" for n in ("amount", "allowance_rate", "burn_rate1h", "spent", "projected")]
)
#: The generated alerts.
BUDGET_ALERTS = ("LLMBudgetFastBurn", "LLMBudgetSlowBurn", "LLMBudgetProjectedOverspend")

_SELECTOR_KEYS = ("agent", "provider", "model", "token_type")
_KEYS = {"name", "amount", "period", "labels", "fast_burn", "slow_burn", "projection_for",
         *_SELECTOR_KEYS}
_DEFAULT_KEYS = {"fast_burn", "slow_burn", "projection_for"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ROLLING = re.compile(r"^([1-9][0-9]{0,2})d$")
_DURATION = re.compile(r"^[0-9]+[smhdw]$")
_MAX_VALUE = 200
#: labels the rules set themselves
_RESERVED = ("budget", "period", "alertname", "severity", "category")


@dataclass(frozen=True)
class Budget:
    """One budget: ``name``, series ``selectors`` (label → value), ``amount`` USD per ``period``
    (``"monthly"`` or ``"<N>d"`` rolling), and the burn rates that alert."""

    name: str
    amount: float
    period: str = "monthly"
    selectors: Mapping[str, str] = field(default_factory=dict)
    fast_burn: float = 14.4
    slow_burn: float = 6.0
    projection_for: str = "1h"

    @property
    def period_days(self) -> int | None:
        """Days of a rolling period; None for a monthly one."""
        m = _ROLLING.match(self.period)
        return int(m.group(1)) if m else None


def load_budgets(source: str | os.PathLike[str] | Mapping[str, Any]) -> list[Budget]:
    """Budgets from a YAML file (or the document already parsed), validated.

    Errors are :class:`~agentinsight.exceptions.ConfigurationError` naming the file and the key,
    e.g. ``budgets.yaml: budgets[1].period: expected 'monthly' or a rolling '<N>d' ...``.

    >>> [b.name for b in load_budgets({"budgets": [
    ...     {"name": "coder", "agent": "coder", "amount": 300, "period": "monthly"}]})]
    ['coder']
    """
    if isinstance(source, Mapping):
        where, doc = "budgets", source
    else:
        import yaml

        path = Path(source)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"{where}: cannot read: {exc.strerror or exc}") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(doc, Mapping):
        raise ConfigurationError(f"{where}: expected a mapping with a 'budgets' list")
    unknown = set(doc) - {"currency", "budgets", "defaults"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {sorted(map(str, unknown))}; "
                                 "expected currency, defaults, budgets")
    currency = doc.get("currency", "USD")
    if currency != "USD":
        raise ConfigurationError(f"{where}: currency: only USD is supported (the cost counter "
                                 f"is in USD), got {currency!r}")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, Mapping) or not set(defaults) <= _DEFAULT_KEYS:
        raise ConfigurationError(f"{where}: defaults: expected a mapping of "
                                 f"{sorted(_DEFAULT_KEYS)}, got {defaults!r}")
    items = doc.get("budgets")
    if not isinstance(items, list) or not items:
        raise ConfigurationError(f"{where}: budgets: expected a non-empty list")
    out: list[Budget] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        budget = _budget(item, defaults, f"{where}: budgets[{i}]")
        if budget.name in seen:
            raise ConfigurationError(f"{where}: budgets[{i}].name: {budget.name!r} is used twice")
        seen.add(budget.name)
        out.append(budget)
    return out


def _budget(item: Any, defaults: Mapping[str, Any], where: str) -> Budget:
    if not isinstance(item, Mapping):
        raise ConfigurationError(f"{where}: expected a mapping, got {item!r}")
    unknown = set(item) - _KEYS
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {sorted(map(str, unknown))}; "
                                 f"expected {sorted(_KEYS)}")
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"{where}.name: expected letters, digits, '_', '.', '-' "
                                 f"(at most 100), got {name!r}")
    where = f"{where} ({name})"
    amount = item.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not (
            math.isfinite(amount) and amount > 0):
        raise ConfigurationError(f"{where}.amount: expected a positive number of USD, "
                                 f"got {amount!r}")
    period = item.get("period", "monthly")
    if period != "monthly" and not (isinstance(period, str) and _ROLLING.match(period)):
        raise ConfigurationError(f"{where}.period: expected 'monthly' or a rolling '<N>d' "
                                 f"(1-999 days, e.g. 7d), got {period!r}")
    selectors: dict[str, str] = {}
    labels = item.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise ConfigurationError(f"{where}.labels: expected a mapping label: value")
    for key, value in [*((k, item[k]) for k in _SELECTOR_KEYS if k in item), *labels.items()]:
        if not isinstance(key, str) or not _LABEL.match(key) or key.startswith("__") \
                or key in _RESERVED:
            raise ConfigurationError(f"{where}.labels: {key!r} is not a usable label name")
        if not isinstance(value, str) or not value or len(value) > _MAX_VALUE:
            raise ConfigurationError(f"{where}.{key}: expected a non-empty string of at most "
                                     f"{_MAX_VALUE} characters, got {value!r}")
        selectors[key] = value
    if not selectors:
        raise ConfigurationError(f"{where}: name at least one of {', '.join(_SELECTOR_KEYS)} "
                                 "or labels (a budget on everything is labels: {} - say so "
                                 "with a job or instance label)")
    opts: dict[str, Any] = {}
    for key in ("fast_burn", "slow_burn"):
        value = item.get(key, defaults.get(key))
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value > 0):
            raise ConfigurationError(f"{where}.{key}: expected a positive number, got {value!r}")
        opts[key] = float(value)
    hold = item.get("projection_for", defaults.get("projection_for"))
    if hold is not None:
        if not isinstance(hold, str) or not _DURATION.match(hold):
            raise ConfigurationError(f"{where}.projection_for: expected a duration like 1h, "
                                     f"got {hold!r}")
        opts["projection_for"] = hold
    return Budget(name, float(amount), period, selectors, **opts)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(x: float) -> str:
    return f"{x:.10g}"


#: Seconds elapsed / in the current calendar month (UTC), as PromQL.
_MONTH_SECONDS = "(days_in_month() * 86400)"
_MONTH_LEFT = ("(days_in_month() * 86400 - ((day_of_month() - 1) * 86400 + hour() * 3600 "
               "+ minute() * 60))")


def _spent_monthly(me: str) -> str:
    # Whole days of the month from the daily rate recorded at each midnight, plus today's whole
    # hours from the hourly rate: 31 + 24 steps, not the month's 744 hours. A slice is dated by
    # its last second, so the one ending at 00:00 on the 1st belongs to the month before.
    # A 31-day window holds parts of at most three consecutive months, and month() % 3 tells them
    # apart (December is 0, January 1); a day's window holds two days, told apart by the parity
    # of the day number since 1970.
    days = "\n    or ".join(
        f"sum_over_time(({_P}rate1d{me} and on() month(vector(time() - 1)) % 3 == {k})"
        f"[31d:1d]) and on() month() % 3 == {k}"
        for k in range(3))
    hours = "\n    or ".join(
        f"sum_over_time(({_P}rate1h{me} and on() floor(vector((time() - 1) / 86400)) % 2 == {k})"
        f"[1d:1h]) and on() floor(vector(time() / 86400)) % 2 == {k}"
        for k in range(2))
    return (f"(\n  (sum(\n    {days}\n  ) * 86400 or vector(0))\n"
            f"  + (sum(\n    {hours}\n  ) * 3600 or vector(0))\n"
            f") and on() {_P}rate1h{me}")


def _rules_for(b: Budget, metric: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sel = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(b.selectors.items()))
    labels = {"budget": b.name, "period": b.period, **dict(sorted(b.selectors.items()))}
    me = f'{{budget="{_escape(b.name)}"}}'
    rec: list[dict[str, Any]] = []

    def record(name: str, expr: str) -> None:
        rec.append({"record": _P + name, "expr": expr, "labels": dict(labels)})

    for w in _WINDOWS:
        record(f"rate{w}", f"sum(rate({metric}{{{sel}}}[{w}]))")
    record("amount", f"vector({_num(b.amount)})")
    days = b.period_days
    seconds = _MONTH_SECONDS if days is None else str(days * 86400)
    record("allowance_rate", f"vector({_num(b.amount)}) / {seconds}")
    record("burn_rate1h", f"{_P}rate1h{me} / {_P}allowance_rate{me}")
    if days is None:
        record("spent", _spent_monthly(me))
        record("projected", f"{_P}spent{me} + {_P}rate1d{me} * scalar{_MONTH_LEFT}")
    else:
        record("spent", f"(sum(sum_over_time({_P}rate1h{me}[{days}d:1h])) * 3600 "
                        f"or vector(0)) and on() {_P}rate1h{me}")
        record("projected", f"{_P}rate1d{me} * {days * 86400}")

    def burn(window: str) -> str:
        return f"{_P}rate{window}{me} / {_P}allowance_rate{me}"

    what = _describe(b)
    page = {
        "alert": "LLMBudgetFastBurn",
        "expr": (f"{burn('1h')} > {_num(b.fast_burn)}\n"
                 f"and {burn('5m')} > {_num(b.fast_burn)}"),
        "labels": {"severity": "critical", "category": "cost", **labels},
        "annotations": {
            "summary": (f"Budget {b.name} burns {{{{ $value | printf \"%.1f\" }}}}x its "
                        f"allowance ({what})"),
            "description": (
                f"Over the last hour and the last 5 minutes, {what} has spent more than "
                f"{_num(b.fast_burn)} times the rate that would use up its budget of "
                f"{_num(b.amount)} USD per {_period_text(b)}. At this pace the budget is "
                f"gone in {_exhaust_text(b, b.fast_burn)}. Runbook: open the Token usage and "
                "cost dashboard; look for a runaway agent loop (LLM calls per run), prompt "
                "bloat (input tokens per call) or a switch to a dearer model; stop or throttle "
                "the agent if the spending is not wanted."),
        },
    }
    ticket = {
        "alert": "LLMBudgetSlowBurn",
        "expr": (f"{burn('6h')} > {_num(b.slow_burn)}\n"
                 f"and {burn('30m')} > {_num(b.slow_burn)}"),
        "labels": {"severity": "warning", "category": "cost", **labels},
        "annotations": {
            "summary": (f"Budget {b.name} burns {{{{ $value | printf \"%.1f\" }}}}x its "
                        f"allowance over 6h ({what})"),
            "description": (
                f"Over the last 6 hours and the last 30 minutes, {what} has spent more than "
                f"{_num(b.slow_burn)} times the rate that would use up its budget of "
                f"{_num(b.amount)} USD per {_period_text(b)}: at this pace the budget is gone "
                f"in {_exhaust_text(b, b.slow_burn)}. Runbook: compare tokens per call and "
                "calls per run with last week in the Token usage and cost dashboard; raise the "
                "budget if the growth is wanted."),
        },
    }
    over = {
        "alert": "LLMBudgetProjectedOverspend",
        "expr": f"{_P}projected{me} > {_P}amount{me}",
        "for": b.projection_for,
        "labels": {"severity": "warning", "category": "cost", **labels},
        "annotations": {
            "summary": (f"Budget {b.name} is on course to spend {{{{ $value | printf \"%.2f\" "
                        f"}}}} USD, over its {_num(b.amount)} USD per {_period_text(b)}"),
            "description": (
                f"At the last day's pace, {what} will have spent more than its budget of "
                f"{_num(b.amount)} USD by the end of the {_period_text(b)}. Runbook: see which "
                "agents and models grew in the cost report's top movers; raise the budget or "
                "cut the spending."),
        },
    }
    return rec, [page, ticket, over]


def _describe(b: Budget) -> str:
    # The alert's own labels, so a value from the file is never read as a template.
    return ", ".join(f"{k}={{{{ $labels.{k} }}}}" for k in sorted(b.selectors))


def _period_text(b: Budget) -> str:
    return "calendar month" if b.period_days is None else f"{b.period_days} days"


def _exhaust_text(b: Budget, factor: float) -> str:
    days = (b.period_days or 30) / factor
    return f"about {days:.1f} days" if days >= 1 else f"about {days * 24:.0f} hours"


def rules_from_budgets(
    budgets: Any, *, group: str = "agentinsight-budgets", namespace: str = "",
    interval: str | None = None,
) -> dict[str, Any]:
    """A Prometheus rule-file document (recording + alerting rules) for ``budgets`` (a list of
    :class:`Budget`, a budgets file path, or its parsed document); see the module docstring.

    ``namespace`` is emit's metric name prefix, if the agents use one; ``interval`` sets the
    group's evaluation interval (default: Prometheus's global one).

    >>> doc = rules_from_budgets({"budgets": [{"name": "coder", "agent": "coder",
    ...                                        "amount": 300, "period": "7d"}]})
    >>> [r["alert"] for r in doc["groups"][0]["rules"] if "alert" in r]
    ['LLMBudgetFastBurn', 'LLMBudgetSlowBurn', 'LLMBudgetProjectedOverspend']
    """
    if not isinstance(budgets, list) or not all(isinstance(b, Budget) for b in budgets):
        budgets = load_budgets(budgets)
    if namespace and not _LABEL.match(namespace):
        raise ConfigurationError(f"namespace: {namespace!r} is not a metric name prefix")
    if interval is not None and not _DURATION.match(interval):
        raise ConfigurationError(f"interval: expected a duration like 1m, got {interval!r}")
    metric = f"{namespace}_{COST_METRIC}" if namespace else COST_METRIC
    groups: list[dict[str, Any]] = []
    for b in budgets:
        records, alerts = _rules_for(b, metric)
        # One group per budget: rules in a group run in order, each seeing what the ones before
        # it wrote in the same evaluation, so the alerts read fresh recorded rates.
        groups.append({"name": f"{group}-{b.name}", "rules": records + alerts})
        if interval:
            groups[-1]["interval"] = interval
    return {"groups": groups}


def write_budget_rules(
    budgets: Any, path: str | os.PathLike[str], **options: Any
) -> Path:
    """Write :func:`rules_from_budgets` (or a document it returned) to ``path`` as YAML that
    ``promtool check rules`` accepts.

    >>> import tempfile, pathlib
    >>> p = write_budget_rules({"budgets": [{"name": "gpt-4o", "model": "gpt-4o",
    ...                                      "amount": 100, "period": "monthly"}]},
    ...                        pathlib.Path(tempfile.mkdtemp()) / "budgets.rules.yml")
    >>> "LLMBudgetFastBurn" in p.read_text()
    True
    """
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text_block(dumper: yaml.SafeDumper, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text_block)
    doc = budgets if isinstance(budgets, Mapping) and "groups" in budgets else \
        rules_from_budgets(budgets, **options)
    text = ("# Recording and alerting rules generated by agentinsight from a budgets file.\n"
            "# Regenerate instead of editing: agentinsight alerts budgets --budgets ... --out ...\n"
            + yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100))
    return atomic_write(path, text)
