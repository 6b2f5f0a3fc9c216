"""Every relative link in README.md and docs/*.md resolves inside the repository: the file
or folder exists and, for a link to a heading (``file.md#heading`` or ``#heading``), the
heading does too (GitHub's anchors). Links with a scheme (https:, mailto:) are not followed.

Paths written in the text (``src/optihub/web.py``, ``tests/unit/...``), which the pages
write from the repository's root, name something that exists, and none leaves the
repository (``../...``): a reader of the repository could not follow it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
LINK_TARGET = re.compile(r"\]\([^)]*\)")
# The repository's own folders (not var/ or .venv/, which a checkout makes as it runs).
TOP_FOLDERS = ("bench", "docs", "scripts", "src", "tests")
# A path from the root (``src/...``, ``docs/...``) or one that climbs out (``../...``).
STARTS = "|".join([r"\.\./", *(re.escape(folder) + "/" for folder in TOP_FOLDERS)])
PATH = re.compile(rf"(?<![\w/.-])((?:{STARTS})[\w./-]*\w/?)")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


def outside_fences(page: Path) -> list[tuple[int, str]]:
    """The page's numbered lines outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def links(page: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in outside_fences(page):
        line = CODE_SPAN.sub("", line)
        found += [(number, target) for target in INLINE_LINK.findall(line)]
        found += [(number, target) for target in REFERENCE.findall(line)]
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to
    hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of the page's headings (a repeated heading gets ``-1``, ``-2``...)."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in outside_fences(page):
        match = HEADING.match(line)
        if match is not None:
            base = slug(match.group(1))
            seen[base] = seen.get(base, -1) + 1
            anchor = base if seen[base] == 0 else f"{base}-{seen[base]}"
            found.add(anchor)
    return found


def broken(page: Path, target: str) -> str | None:
    """Why ``target`` (a link on ``page``) does not resolve, or None."""
    path_part, _, anchor = target.partition("#")
    resolved = (page.parent / path_part).resolve() if path_part else page
    if not resolved.is_relative_to(ROOT):
        return "points outside the repository"
    if not resolved.exists():
        return "no such file or folder"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"no heading #{anchor} in {resolved.relative_to(ROOT)}"
    return None


def wrong_paths(page: Path) -> list[tuple[int, str, str]]:
    """``(line, path, why)`` for each path in the page's text that leaves the repository or
    names nothing (link targets are ``broken``'s)."""
    found = []
    for number, line in outside_fences(page):
        for path in PATH.findall(LINK_TARGET.sub("]", line)):
            if path.startswith("../"):
                found.append((number, path, "outside the repository"))
            elif not (ROOT / path).exists():
                found.append((number, path, "no such file or folder"))
    return found


def where(page: Path, number: int) -> str:
    return f"{page.relative_to(ROOT)}:{number}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    problems = []
    for number, target in links(page):
        why = None if SCHEME.match(target) else broken(page, target)
        if why is not None:
            problems.append(f"{where(page, number)}: {target}: {why}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_paths_in_the_text_exist(page):
    problems = [f"{where(page, n)}: {path}: {why}" for n, path, why in wrong_paths(page)]
    assert problems == [], "\n".join(problems)


def test_the_checker_sees_links_and_anchors(tmp_path, monkeypatch):
    tmp_path = tmp_path.resolve()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    page = tmp_path / "page.md"
    page.write_text(
        "# Draft review (the dashboard page behind `url`)\n"
        "See [there](other.md), [here](#draft-review-the-dashboard-page-behind-url),\n"
        "[gone](#nowhere), [up](../outside.md) and `[code](ignored.md)`.\n"
        "```\n[fenced](ignored.md)\n```\n"
    )
    found = [target for _, target in links(page)]
    assert found == [
        "other.md",
        "#draft-review-the-dashboard-page-behind-url",
        "#nowhere",
        "../outside.md",
    ]
    assert broken(page, "other.md") == "no such file or folder"
    assert broken(page, "#draft-review-the-dashboard-page-behind-url") is None
    assert broken(page, "#nowhere") == "no heading #nowhere in page.md"
    assert broken(page, "../outside.md") == "points outside the repository"


def test_the_checker_sees_paths(tmp_path, monkeypatch):
    tmp_path = tmp_path.resolve()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "See `docs/page.md`, docs/gone.md, `../shared/notes.md` and\n"
        "[docs/page.md](../docs/page.md); not shared/docs/elsewhere.md.\n"
    )
    assert wrong_paths(page) == [
        (1, "docs/gone.md", "no such file or folder"),
        (1, "../shared/notes.md", "outside the repository"),
    ]
