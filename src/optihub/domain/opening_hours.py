"""A location's weekly opening hours in words: ``Mon–Fri 9:00–17:30``, ``Sat 10:00–14:00``.

Consecutive days with the same intervals share a line; closed days are left out (a patient
reads what is open). Several intervals in a day (a lunch break) are joined with commas.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DASH = "\u2013"  # en dash, for ranges


def clock(moment: time) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


def day_lines(hours: Iterable[tuple[int, time, time]]) -> list[str]:
    """``(weekday 0 = Monday, opens, closes)`` intervals as lines, Monday first."""
    by_day: dict[int, list[tuple[time, time]]] = {}
    for weekday, opens, closes in hours:
        by_day.setdefault(weekday, []).append((opens, closes))
    lines: list[str] = []
    run_start: int | None = None
    run_text = ""
    for day in range(8):  # 7 closes the last run
        text = (
            ", ".join(f"{clock(o)}{DASH}{clock(c)}" for o, c in sorted(by_day[day]))
            if day in by_day
            else ""
        )
        if run_start is not None and text == run_text:
            continue
        if run_start is not None and run_text:
            last = day - 1
            days = (
                DAY_NAMES[run_start]
                if last == run_start
                else f"{DAY_NAMES[run_start]}{DASH}{DAY_NAMES[last]}"
            )
            lines.append(f"{days} {run_text}")
        run_start, run_text = day, text
    return lines


def one_line(hours: Iterable[tuple[int, time, time]]) -> str | None:
    """The lines joined with semicolons (None when no hours are known)."""
    lines = day_lines(hours)
    return "; ".join(lines) if lines else None
