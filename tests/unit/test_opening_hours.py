"""A location's weekly hours in words, as the patient's page and e-mail show them."""

from __future__ import annotations

from datetime import time

from optihub.domain.opening_hours import day_lines, one_line

DASH = "\u2013"


def test_days_with_the_same_hours_share_a_line_and_closed_days_are_left_out():
    hours = [(d, time(9), time(17, 30)) for d in range(5)] + [(5, time(10), time(14))]
    assert day_lines(hours) == [f"Mon{DASH}Fri 9:00{DASH}17:30", f"Sat 10:00{DASH}14:00"]


def test_a_lunch_break_and_days_apart():
    hours = [
        (2, time(13), time(17)),
        (0, time(9), time(12)),
        (0, time(13), time(17)),
        (2, time(9), time(12)),
        (6, time(10), time(12, 15)),
    ]
    assert day_lines(hours) == [
        f"Mon 9:00{DASH}12:00, 13:00{DASH}17:00",
        f"Wed 9:00{DASH}12:00, 13:00{DASH}17:00",
        f"Sun 10:00{DASH}12:15",
    ]


def test_a_run_that_ends_on_sunday_and_no_hours_at_all():
    hours = [(d, time(8), time(20)) for d in range(3, 7)]
    assert one_line(hours) == f"Thu{DASH}Sun 8:00{DASH}20:00"
    assert day_lines([]) == [] and one_line([]) is None
