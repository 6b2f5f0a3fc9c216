"""Imports flow one way: surfaces → services → reads → domain. Each rule below is checked
by parsing every module's imports (function-local ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "optihub"

# layer → what it must never import (prefixes of module names)
FORBIDDEN = {
    "optihub.domain": [
        "optihub.db",
        "optihub.services",
        "optihub.reads",
        "optihub.events",
        "optihub.auth",
        "optihub.surfaces",
        "optihub.web",
        "optihub.app",
        "fastapi",
        "starlette",
        "sqlalchemy",
    ],
    "optihub.db": [
        "optihub.services",
        "optihub.reads",
        "optihub.events",
        "optihub.auth",
        "optihub.surfaces",
        "optihub.web",
        "optihub.app",
    ],
    "optihub.events": [
        "optihub.services",
        "optihub.reads",
        "optihub.auth",
        "optihub.surfaces",
        "optihub.web",
        "optihub.app",
    ],
    "optihub.reads": [
        "optihub.services",
        "optihub.events",
        "optihub.auth",
        "optihub.surfaces",
        "optihub.web",
        "optihub.app",
        "fastapi",
        "starlette",
    ],
    "optihub.services": [
        "optihub.auth",
        "optihub.surfaces",
        "optihub.web",
        "optihub.app",
        "fastapi",
        "starlette",
    ],
    "optihub.web": ["optihub.auth", "optihub.surfaces", "optihub.services", "optihub.app"],
    "optihub.auth": ["optihub.surfaces", "optihub.app"],
    "optihub.surfaces.kit": ["optihub.app"],
    # Pages call services and reads; they never reach into an API dialect.
    "optihub.dashboard": ["optihub.surfaces", "optihub.app"],
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _hits(name: str, imported: set[str], forbidden: list[str]) -> list[str]:
    return sorted(i for i in imported for f in forbidden if i == f or i.startswith(f + "."))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_layer_rules(path):
    name = module_name(path)
    imported = imports_of(path)
    for layer, forbidden in FORBIDDEN.items():
        if name == layer or name.startswith(layer + "."):
            assert _hits(name, imported, forbidden) == [], f"{name} imports across layers"
    if name.startswith("optihub.surfaces.") and not name.startswith("optihub.surfaces.kit"):
        own = ".".join(name.split(".")[:3])
        others = [
            i
            for i in imported
            if i.startswith("optihub.surfaces.")
            and not i.startswith(own)
            and not i.startswith("optihub.surfaces.kit")
        ]
        assert others == [], f"{name} imports another surface"
