"""What FHIR says per eye that the core has no column for — a lens's wear duration, its
colour and notes — kept in the prescription's notes, one line each, in words staff read on
every page that shows the notes:

    Right eye: Shade treatment for extreme light sensitivity
    Right eye colour: green
    Right eye wear duration: 1 mo

(``Right eye: …`` is how the portal dialect writes an eye's comment too.) Reading back, a
line of that shape goes to its eye; any other line is about the whole prescription and is
shown as a note of every eye (VisionPrescription has no note of its own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

SIDE_WORDS = {"right": "Right", "left": "Left"}
_LINE = re.compile(r"^(Right|Left) eye( colour| wear duration)?: (.+)$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?) ([A-Za-z]{1,10})$")


@dataclass
class EyeNotes:
    notes: list[str] = field(default_factory=list)
    color: str | None = None
    duration: tuple[Decimal, str] | None = None


@dataclass
class ReadNotes:
    eyes: dict[str, EyeNotes] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def eye(self, side: str) -> EyeNotes:
        own = self.eyes.get(side, EyeNotes())
        return EyeNotes([*own.notes, *self.general], own.color, own.duration)


def parse(text: str | None) -> ReadNotes:
    read = ReadNotes()
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        match = _LINE.match(line)
        duration = None
        if match is not None and match.group(2) == " wear duration":
            found = _DURATION.match(match.group(3))
            if found is None:
                match = None
            else:
                try:
                    duration = (Decimal(found.group(1)), found.group(2))
                except InvalidOperation:  # pragma: no cover - the pattern admits digits only
                    match = None
        if match is None:
            read.general.append(line)
            continue
        eye = read.eyes.setdefault(match.group(1).lower(), EyeNotes())
        if duration is not None:
            eye.duration = duration
        elif match.group(2) == " colour":
            eye.color = match.group(3)
        else:
            eye.notes.append(match.group(3))
    return read


def line(side: str, kind: str, value: str) -> str:
    """One line: ``kind`` is ``note``, ``colour`` or ``wear duration``."""
    label = "" if kind == "note" else f" {kind}"
    return f"{SIDE_WORDS[side]} eye{label}: {value}"


def one_line(text: str) -> str:
    """A note as one line (its line breaks as spaces): a line is what is read back."""
    return " ".join(text.split())
