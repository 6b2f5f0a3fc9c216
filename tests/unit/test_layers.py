"""What each package of ``src/optihub`` may import, and no import cycles.

A *package* here is each folder of ``src/optihub`` (with everything below it: ``db`` holds
``db.models`` and the migrations), each top-level module (``web``, ``errors``, ``cli``...),
and, under ``surfaces/``, the kit and each dialect on their own. ``ALLOWED`` names, for every
one of them, the optihub packages and the third-party top-level modules it may import; the
standard library is open to all. The packages are found by walking the tree, so a new one
fails ``test_every_package_has_an_entry`` until it is given one (docs/architecture.md
describes the layers this table keeps).

Imports are read from the source with ``ast``, function-local ones included: an import
deferred into a function is still a dependency, and deferring it is how a cycle hides. An
import of a package's module does not count as importing its parent package (Python runs
the parent's ``__init__`` first, but that is how packages work, not a dependency).

Cycles are looked for between packages and between modules; a failure names the cycle and
the import that makes each of its arrows. ``KNOWN_CYCLES`` lists the ones left in place,
each with the files that hold it and why it is not broken here.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "optihub"
# Packages whose subpackages are packages of their own in this table: the kit and each
# dialect. (``surfaces`` itself is its ``__init__``: the list of dialects the app installs.)
SPLIT = ("surfaces",)


@dataclass(frozen=True)
class May:
    """What one package may import: optihub packages (short names) and third-party modules."""

    optihub: frozenset[str]
    third_party: frozenset[str]


def may(*packages: str, third_party: Iterable[str] = ()) -> May:
    return May(frozenset(packages), frozenset(third_party))


# Import no optihub package; every layer from ``db`` up may use them.
FOUNDATION = ("errors", "settings", "logging", "security", "counters")
# Below the surfaces: what the kit and every dialect build on.
CORE = ("domain", "db", "reads", "events", "services", "auth", "web", "problems", *FOUNDATION)
HTTP = ("fastapi", "starlette")
DIALECTS = (
    "surfaces.partner",
    "surfaces.practice",
    "surfaces.labs",
    "surfaces.fulfillment",
    "surfaces.portal",
    "surfaces.fhir",
)
# A dialect may import the kit and the core, never another dialect, the dashboard or the app.
DIALECT = may(
    "surfaces.kit",
    *CORE,
    third_party=(*HTTP, "pydantic", "pydantic_core", "sqlalchemy", "orjson"),
)

ALLOWED: dict[str, May] = {
    # Foundation: leaves.
    "optihub": may(),  # the package face: __version__
    "errors": may(),
    "settings": may(),
    "logging": may(third_party=("orjson", "structlog")),
    "security": may(third_party=("argon2",)),
    # Shared counters (Redis, or memory while it is unreachable).
    "counters": may(third_party=("limits", "structlog")),
    # Pure rules: no framework, no storage. phonenumbers is pure too (domain/phones.py).
    "domain": may("errors", third_party=("phonenumbers",)),
    # Storage: models, sessions, migrations (0012 fills in patients' E.164 phones).
    "db": may(
        "domain",
        *FOUNDATION,
        third_party=("sqlalchemy", "alembic", "psycopg", "phonenumbers", "orjson"),
    ),
    # The read path and the outbox sit on storage, side by side.
    "reads": may("db", "domain", *FOUNDATION, third_party=("sqlalchemy", "orjson")),
    "events": may("db", "domain", *FOUNDATION, third_party=("sqlalchemy", "orjson", "httpx")),
    # Use cases: no HTTP.
    "services": may(
        "db", "domain", "reads", "events", *FOUNDATION, third_party=("sqlalchemy", "orjson")
    ),
    # HTTP plumbing every router shares (sessions per request, metrics, hot routes); knows
    # no service, no auth, no surface.
    "web": may(
        "db",
        *FOUNDATION,
        third_party=(*HTTP, "sqlalchemy", "structlog", "prometheus_client"),
    ),
    # Exceptions -> one Problem for every envelope.
    "problems": may("errors", third_party=HTTP),
    "apidocs": may("auth", "domain", third_party=("fastapi", "swagger_ui_bundle")),
    # The page shell (layout, static files) the auth pages and the dashboard share.
    "shell": may("db", "domain", "reads", *FOUNDATION, third_party=(*HTTP, "jinja2", "sqlalchemy")),
    "auth": may(
        "db",
        "domain",
        "problems",
        "services",
        "shell",
        "web",
        *FOUNDATION,
        third_party=(
            *HTTP,
            "pydantic",
            "sqlalchemy",
            "authlib",
            "joserfc",
            "cryptography",
            "itsdangerous",
            "limits",
            "anyio",
        ),
    ),
    # What every dialect shares; it decides nothing, so it calls no service.
    "surfaces.kit": may(
        "auth",
        "db",
        "domain",
        "events",
        "problems",
        "reads",
        "web",
        *FOUNDATION,
        third_party=(*HTTP, "pydantic", "sqlalchemy", "orjson", "limits", "defusedxml"),
    ),
    "surfaces.partner": DIALECT,
    "surfaces.practice": DIALECT,
    "surfaces.labs": DIALECT,
    "surfaces.fulfillment": DIALECT,
    "surfaces.portal": DIALECT,
    # fhir.resources: the R5 models that check a resource's structure on the way in.
    "surfaces.fhir": may(
        "surfaces.kit",
        *CORE,
        "optihub",
        third_party=(*HTTP, "pydantic", "sqlalchemy", "orjson", "fhir"),
    ),
    # SURFACES: the dialects the app installs.
    "surfaces": may(*DIALECTS),
    # Staff pages: services, reads and the auth pages' session; never a dialect.
    "dashboard": may(
        "auth",
        "db",
        "domain",
        "reads",
        "services",
        "shell",
        "web",
        *FOUNDATION,
        third_party=(*HTTP, "sqlalchemy", "markupsafe"),
    ),
    # The patient's page behind a link: one order, nothing else of the practice.
    # The patient's page; it offers the prescription as the FHIR dialect renders it.
    "patient_view": may(
        "db",
        "domain",
        "reads",
        "services",
        "surfaces.fhir",
        "web",
        *FOUNDATION,
        third_party=(*HTTP, "sqlalchemy", "jinja2", "orjson"),
    ),
    "demo": may("db", "domain", "reads", "services", *FOUNDATION, third_party=("sqlalchemy",)),
    # Assembly: the one place that knows every part.
    "app": may(
        "optihub",
        "apidocs",
        "auth",
        "dashboard",
        "db",
        "events",
        "patient_view",
        "problems",  # which errors are outages: answered before the last-resort handler
        "services",
        "surfaces",
        "surfaces.kit",
        "web",
        *FOUNDATION,
        third_party=(*HTTP, "structlog"),  # the start-up warnings
    ),
    "cli": may(
        "app",
        "auth",
        "db",
        "demo",
        "domain",
        "reads",
        "services",
        "surfaces",
        "surfaces.practice",  # `optihub postman`: the practice dialect's Postman collection
        *FOUNDATION,
        third_party=("typer", "rich", "uvicorn", "sqlalchemy", "limits"),
    ),
    "__main__": may("cli"),
}


# -- reading the tree ---------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def package_of(module: str) -> str:
    """The short name of the package ``module`` belongs to (``optihub`` for the face)."""
    parts = module.split(".")[1:]
    if not parts:
        return "optihub"
    depth = 2 if parts[0] in SPLIT and len(parts) > 1 else 1
    return ".".join(parts[:depth])


PACKAGES = sorted({package_of(m) for m in FILES})


@dataclass(frozen=True)
class Import:
    importer: str  # module
    imported: str  # an optihub module, or a third-party top-level name
    line: int

    @property
    def site(self) -> str:
        return f"{FILES[self.importer].relative_to(SRC.parent)}:{self.line}"


def _optihub_module(name: str) -> str:
    """The module of this tree that ``name`` (a module or a name in one) is."""
    while name not in FILES:
        name = name.rpartition(".")[0]
    return name


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if FILES[module].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str) -> list[Import]:
    """Every import of ``module`` (function-local ones included), resolved: an optihub one
    to the module it names, another to its top-level name."""
    found = []
    for node in ast.walk(ast.parse(FILES[module].read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            # `from optihub.surfaces import kit` imports the module optihub.surfaces.kit.
            names = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in FILES else source
                for alias in node.names
            ]
        for name in names:
            top = name.partition(".")[0]
            if top == "optihub":
                imported = _optihub_module(name)
                if imported != module:
                    found.append(Import(module, imported, node.lineno))
            elif top not in sys.stdlib_module_names:
                found.append(Import(module, top, node.lineno))
    return found


IMPORTS = [i for module in FILES for i in imports_of(module)]


# -- the allow-list -----------------------------------------------------------------------


def test_every_package_has_an_entry():
    missing = [p for p in PACKAGES if p not in ALLOWED]
    stale = [p for p in ALLOWED if p not in PACKAGES]
    assert missing == [], f"packages without an entry in ALLOWED: {missing}"
    assert stale == [], f"entries in ALLOWED naming no package: {stale}"


def test_the_table_names_only_packages():
    unknown = {
        f"{package} may import {other}"
        for package, rule in ALLOWED.items()
        for other in rule.optihub
        if other not in PACKAGES
    }
    assert sorted(unknown) == []


def test_no_dialect_may_import_another():
    dialects = [
        p for p in PACKAGES if p.startswith("surfaces.") and p != "surfaces.kit"
    ]  # every package under surfaces/ but the kit is a dialect
    assert sorted(dialects) == sorted(DIALECTS)
    for dialect in dialects:
        rule = ALLOWED[dialect]
        assert "surfaces.kit" in rule.optihub, dialect
        others = sorted(rule.optihub & {"surfaces", *dialects} - {dialect})
        assert others == [], f"{dialect} may import {others}"


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_are_allowed(package):
    rule = ALLOWED.get(package, may())
    refused = []
    for found in IMPORTS:
        if package_of(found.importer) != package:
            continue
        if found.imported.startswith("optihub"):
            target = package_of(found.imported)
            if target != package and target not in rule.optihub:
                refused.append(f"{found.site} imports {found.imported} (package {target})")
        elif found.imported not in rule.third_party:
            refused.append(f"{found.site} imports {found.imported} (third-party)")
    assert refused == [], f"{package} imports what ALLOWED does not let it:\n" + "\n".join(refused)


# -- cycles -------------------------------------------------------------------------------

Graph = dict[str, dict[str, Import]]  # node -> node it imports -> the first import doing so

# Cycles left in place because they can only be broken in files others are changing now,
# each with the files and the way out. An entry whose cycle is gone fails
# test_known_cycles_still_exist, so it is removed when its cycle is.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def _graph(node_of) -> Graph:
    graph: Graph = defaultdict(dict)
    for found in IMPORTS:
        if found.imported.startswith("optihub"):
            source, target = node_of(found.importer), node_of(found.imported)
            if source != target:
                graph[source].setdefault(target, found)
    return graph


def _strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's components with more than one node, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, {})))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _a_cycle(graph: Graph, component: list[str]) -> list[str]:
    """A shortest cycle through the component's first node (breadth first)."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, {})):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if target in members and target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def cycles(graph: Graph) -> list[str]:
    """Each cycle of ``graph`` not in ``KNOWN_CYCLES``, described with its imports."""
    described = []
    for component in _strongly_connected(graph):
        if frozenset(component) in KNOWN_CYCLES:
            continue
        cycle = _a_cycle(graph, component)
        arrows = [
            f"  {a} -> {b}: {graph[a][b].site} imports {graph[a][b].imported}"
            for a, b in pairwise(cycle)
        ]
        described.append(" -> ".join(cycle) + "\n" + "\n".join(arrows))
    return described


def test_no_cycles_between_packages():
    found = cycles(_graph(package_of))
    assert found == [], "import cycles between packages:\n" + "\n".join(found)


def test_no_cycles_between_modules():
    found = cycles(_graph(lambda module: module))
    assert found == [], "import cycles between modules:\n" + "\n".join(found)


def test_known_cycles_still_exist():
    components = {
        frozenset(c)
        for graph in (_graph(package_of), _graph(lambda module: module))
        for c in _strongly_connected(graph)
    }
    gone = [sorted(known) for known in KNOWN_CYCLES if known not in components]
    assert gone == [], f"no longer cycles, remove them from KNOWN_CYCLES: {gone}"


def test_cycles_are_found():
    # The finder itself, on a graph with one cycle (a -> b -> c -> a) and a tail (c -> d).
    site = Import("optihub", "optihub", 1)
    graph: Graph = {"a": {"b": site}, "b": {"c": site}, "c": {"a": site, "d": site}}
    assert _strongly_connected(graph) == [["a", "b", "c"]]
    assert _a_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
