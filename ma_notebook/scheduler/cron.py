"""Cron expressions as users type them (5-field, 6-field with seconds, Quartz) made croniter-ready.

The normalised form stored and shown to the user puts seconds FIRST (as Quartz, Spring and the
jupyter-scheduler form's own cron description do) and has no ``?``; ``croniter_form`` moves the
seconds to the LAST position, which is where croniter expects them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import pytz
from croniter import croniter

from ..api import ApiError

_QUARTZ_DOW_NAMES = re.compile(r"[A-Za-z]")


class CronError(ApiError, ValueError):
    """A cron expression that cannot be scheduled; the message says what to fix (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


@dataclass(frozen=True)
class CronSchedule:
    """A validated schedule: the normalised form and the form croniter runs."""

    expression: str
    normalized: str
    croniter_form: str
    has_seconds: bool

    def next_times(self, count: int = 3, tz: str | None = None, start: float | None = None) -> list:
        """The next ``count`` fire times as epoch seconds."""
        zone = pytz.timezone(tz) if tz else pytz.utc
        base = datetime.fromtimestamp(start, zone) if start else datetime.now(zone)
        it = croniter(self.croniter_form, base)
        return [it.get_next(float) for _ in range(count)]


def _shift_quartz_dow(field: str) -> str:
    """Quartz numbers weekdays 1-7 from Sunday; cron numbers them 0-6."""
    if field in ("*", "?") or _QUARTZ_DOW_NAMES.search(field.split("#")[0].split("/")[0]):
        return field

    def shift(value: str) -> str:
        n = int(value)
        if not 1 <= n <= 7:
            raise CronError(
                f"Quartz day-of-week values run from 1 (Sunday) to 7 (Saturday), got {n}."
            )
        return str(n - 1)

    parts = []
    for part in field.split(","):
        nth = ""
        if "#" in part:
            part, nth = part.split("#", 1)
            nth = "#" + nth
        step = ""
        if "/" in part:
            part, step = part.split("/", 1)
            step = "/" + step
        if part == "*":
            parts.append(part + step + nth)
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            part = f"{shift(lo)}-{shift(hi)}"
        elif part.isdigit():
            part = shift(part)
        parts.append(part + step + nth)
    return ",".join(parts)


def normalize_cron(expression: str) -> CronSchedule:
    """Validate ``expression`` and return its normalised forms, or raise CronError."""
    if not isinstance(expression, str) or not expression.strip():
        raise CronError("The schedule is empty: give a cron expression such as '0 * * * *'.")
    fields = expression.split()
    quartz = "?" in expression
    if len(fields) == 7:
        if fields[6] not in ("*", "?"):
            raise CronError(
                f"'{expression}' has a year field ({fields[6]}); only '*' is supported there."
            )
        fields = fields[:6]
        quartz = True
    if len(fields) == 5:
        if quartz:
            raise CronError(
                f"'{expression}': '?' belongs to Quartz expressions, which have 6 fields "
                "(seconds first). Use '*' in a 5-field expression."
            )
        seconds, rest = None, fields
    elif len(fields) == 6:
        seconds, rest = fields[0], fields[1:]
    else:
        raise CronError(
            f"'{expression}' has {len(fields)} fields. Use 5 fields (minute hour day month "
            "weekday), 6 with seconds first (second minute hour day month weekday), or a Quartz "
            "expression such as '0/2 * * * * ?'."
        )
    minute, hour, dom, month, dow = rest
    if dom == "?" and dow == "?":
        raise CronError(f"'{expression}': only one of day-of-month and day-of-week may be '?'.")
    if quartz:
        dow = _shift_quartz_dow(dow)
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else dow
    if "?" in (minute, hour, month) or (seconds and "?" in seconds):
        raise CronError(
            f"'{expression}': '?' is only allowed in the day-of-month or weekday field."
        )
    five = [minute, hour, dom, month, dow]
    if seconds is not None and seconds != "0":
        normalized = " ".join([seconds, *five])
        croniter_form = " ".join([*five, seconds])
        has_seconds = True
    else:
        normalized = croniter_form = " ".join(five)
        has_seconds = False
    try:
        it = croniter(croniter_form, datetime.now(timezone.utc))
        it.get_next(float)
    except Exception as e:  # croniter raises several unrelated exception types
        raise CronError(f"'{expression}' is not a valid cron expression: {e}") from e
    return CronSchedule(expression, normalized, croniter_form, has_seconds)


def to_croniter(schedule: str) -> str:
    """The croniter form of a stored (normalised or legacy 5-field) schedule."""
    return normalize_cron(schedule).croniter_form
