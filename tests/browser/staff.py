"""What the staff pages' browser tests share: signing in, a screenshot of each page under
``var/screenshots/`` (ignored by git; the closing notes name the ones to look at), and
axe-core's serious and critical findings (none is allowed on a staff page)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
_axe = Axe()


def sign_in(page: Page, base_url: str, email: str, password: str, then: str = "") -> None:
    page.goto(f"{base_url}/login" + (f"?next={then}" if then else ""))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(page: Page, name: str) -> Path:
    """The whole page as ``var/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_accessibility_problems(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    results = _axe.run(page)
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": len(v["nodes"])}
        for v in results.response["violations"]
        if v.get("impact") in {"serious", "critical"}
    ]
