"""Threshold alarm rules: a statistic per period, N consecutive periods to fire and to resolve.

A rule "avg of cache_dir_util >= 0.9 over 2 consecutive 60 s periods -> Major" fires once when
two periods in a row breach, and resolves only after two periods in a row do not: values
oscillating around the threshold keep its state instead of flapping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Metrics a rule may watch, with what they mean.
METRICS: dict[str, str] = {
    "cache_dir_util": "cache directory use as a fraction of its capacity (0-1)",
    "cache_dir_size_bytes": "bytes held in the cache directory",
    "memory_util": "memory working set as a fraction of the limit (0-1)",
    "cpu_util": "CPU use as a fraction of the vCPUs (0-1)",
}
#: Event recorded when a rule on these metrics fires.
CACHE_METRICS = ("cache_dir_util", "cache_dir_size_bytes")

Metric = Literal["cache_dir_util", "cache_dir_size_bytes", "memory_util", "cpu_util"]
Comparison = Literal[">=", ">", "<=", "<"]


class AlarmRule(BaseModel):
    """One threshold rule, from user settings or server config."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    metric: Metric
    threshold: float = Field(ge=0, le=1e18)
    comparison: Comparison = ">="
    statistic: Literal["avg", "max"] = "avg"
    period_seconds: float = Field(60, ge=1, le=86400)
    consecutive_periods: int = Field(2, ge=1, le=100)
    severity: Literal["Warning", "Major", "Critical"] = "Major"
    enabled: bool = True


DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "cache-dir-util",
        "metric": "cache_dir_util",
        "threshold": 0.9,
        "statistic": "avg",
        "period_seconds": 60,
        "consecutive_periods": 2,
        "severity": "Major",
    }
]


def breaches(rule: AlarmRule, value: float) -> bool:
    """Whether ``value`` is on the alarm side of the rule's threshold."""
    t = rule.threshold
    return {
        ">=": value >= t,
        ">": value > t,
        "<=": value <= t,
        "<": value < t,
    }[rule.comparison]


@dataclass
class RuleState:
    """The evaluation state of one rule."""

    rule: AlarmRule
    source: str  # "config" or "user"
    period_start: float | None = None
    values: list[float] = field(default_factory=list)
    breach_streak: int = 0
    ok_streak: int = 0
    firing: bool = False
    since: float | None = None
    last_value: float | None = None
    fired_count: int = 0

    def to_json(self) -> dict[str, Any]:
        """The state as the API returns it."""
        return {
            "rule": self.rule.model_dump(),
            "source": self.source,
            "state": "firing" if self.firing else "ok",
            "since": self.since,
            "last_value": self.last_value,
            "breach_streak": self.breach_streak,
            "ok_streak": self.ok_streak,
            "fired_count": self.fired_count,
        }


@dataclass
class Transition:
    """A rule that started firing or resolved."""

    state: RuleState
    status: Literal["firing", "resolved"]
    value: float
    time: float


class AlarmEngine:
    """Feeds metric values to the rules and reports fire/resolve transitions."""

    def __init__(self) -> None:
        self.states: dict[str, RuleState] = {}

    def set_rules(self, rules: list[AlarmRule], source: str) -> None:
        """Replace the rules of one source, keeping the state of rules that did not change."""
        keep = {k: s for k, s in self.states.items() if s.source != source}
        for rule in rules:
            key = f"{source}:{rule.name}"
            old = self.states.get(key)
            if old is not None and old.rule == rule:
                keep[key] = old
            else:
                keep[key] = RuleState(rule, source)
        self.states = keep

    def feed(self, metrics: dict[str, float | None], now: float | None = None) -> list[Transition]:
        """Add one observation of each metric; close the periods that ended."""
        now = time.time() if now is None else now
        out: list[Transition] = []
        for s in self.states.values():
            rule = s.rule
            if not rule.enabled:
                continue
            value = metrics.get(rule.metric)
            if value is None:
                continue
            if s.period_start is None:
                s.period_start = now
            if now - s.period_start >= rule.period_seconds and s.values:
                out.extend(self._close_period(s, now))
                s.period_start = now
                s.values = []
            s.values.append(float(value))
        return out

    def _close_period(self, s: RuleState, now: float) -> list[Transition]:
        rule = s.rule
        stat = sum(s.values) / len(s.values) if rule.statistic == "avg" else max(s.values)
        s.last_value = stat
        if breaches(rule, stat):
            s.breach_streak += 1
            s.ok_streak = 0
        else:
            s.ok_streak += 1
            s.breach_streak = 0
        if not s.firing and s.breach_streak >= rule.consecutive_periods:
            s.firing = True
            s.since = now
            s.fired_count += 1
            return [Transition(s, "firing", stat, now)]
        if s.firing and s.ok_streak >= rule.consecutive_periods:
            s.firing = False
            s.since = now
            return [Transition(s, "resolved", stat, now)]
        return []

    def to_json(self) -> list[dict[str, Any]]:
        """Every rule with its state."""
        return [s.to_json() for s in self.states.values()]
