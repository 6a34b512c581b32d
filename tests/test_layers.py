"""Domain packages depend on each other one way only.

Every module under ``src/atelier`` is parsed (module-level and function-level imports,
``TYPE_CHECKING`` blocks, relative imports, and ``importlib.import_module``/``__import__``
with a literal name). A package may import only packages in a *lower* tier of ``LAYERS``;
packages that share a tier are independent of each other. Reactions that go upward (a run
completed → release its dependants, add a feed entry ...) travel as outbox events to
subscribers in the higher package, never as imports.

To add a package: put it in the tier that matches what it may use. ``notifications``,
``reminders``, ``flows`` and ``web`` sit above ``production``/``tasks``/``media``: they may
import those, and nothing below them may import them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "atelier"

# Lowest first. A package may import the packages of the tiers below its own, nothing else.
LAYERS: list[frozenset[str]] = [
    frozenset({"atelier"}),  # the package's own __init__ (its version)
    frozenset({"platform"}),
    frozenset({"partners", "audit"}),
    frozenset({"inventory"}),  # items, locations, ledger; records consumption it is handed
    frozenset({"catalog"}),  # designs, BOM and outputs are defined in inventory items
    frozenset({"orders"}),
    frozenset({"tasks"}),
    frozenset({"production"}),
    frozenset({"media", "auth"}),
    frozenset({"notifications"}),
    frozenset({"flows"}),  # the engine: operations register with it
    frozenset({"reminders"}),  # registers the discoverer and reminder operations with flows
    frozenset({"web"}),
    # The composition root: modules directly under atelier/ that wire everything together.
    frozenset({"models", "demo"}),
    frozenset({"migrations", "app"}),
    frozenset({"cli"}),
]
TIER = {package: rank for rank, tier in enumerate(LAYERS) for package in tier}

# Modules that import routers or subscribers from a list of names (``import_module(name)``).
# Only these may import a computed name; every ``"atelier...."`` string in them counts as an
# import, so the lists are held to the same order.
DYNAMIC_IMPORT_ALLOWED = frozenset({"atelier.app", "atelier.web.shared.install"})


@dataclass(frozen=True, slots=True)
class Edge:
    module: str  # importing module, dotted
    line: int
    target: str  # imported module, dotted
    dynamic: bool = False

    @property
    def source_package(self) -> str:
        return package_of(self.module)

    @property
    def target_package(self) -> str:
        return package_of(self.target)

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


# Root modules that belong to another root module (one unit split across files).
SAME_UNIT = {"atelier.demo_runs": "demo"}


def package_of(module: str) -> str:
    """``atelier.production.service`` → ``production``; ``atelier.app`` → ``app``."""
    if module in SAME_UNIT:
        return SAME_UNIT[module]
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([name] if name else [])])


def _is_dynamic_import(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in {"import_module", "__import__"}


def edges_of(path: Path) -> list[Edge]:
    text = path.read_text(encoding="utf-8")
    module = module_name(path)
    edges = edges_of_source(text, module, is_package=path.name == "__init__.py")
    if module in DYNAMIC_IMPORT_ALLOWED:
        edges += named_modules(text, module)
    return edges


def named_modules(text: str, module: str) -> list[Edge]:
    """``"atelier.x.y"`` string constants: what a module importing by name will import."""
    return [
        Edge(module, node.lineno, node.value)
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("atelier.")
    ]


def edges_of_source(text: str, module: str, *, is_package: bool = False) -> list[Edge]:
    tree = ast.parse(text)
    found: list[Edge] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Edge(module, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, is_package, node.level, node.module)
                if node.level
                else (node.module or "")
            )
            found.append(Edge(module, node.lineno, base))
            # ``from atelier import tasks`` names a package, not an attribute of ``atelier``.
            found += [Edge(module, node.lineno, f"{base}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append(Edge(module, node.lineno, arg.value))
            else:
                found.append(Edge(module, node.lineno, "<computed>", dynamic=True))
    return [e for e in found if e.dynamic or e.target.startswith("atelier.")]


def _real_target(edge: Edge) -> bool:
    """``from atelier.x import name``: ``atelier.x.name`` is a module only when it exists."""
    parts = edge.target.split(".")
    path = SRC.parent.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def all_edges() -> list[Edge]:
    edges: list[Edge] = []
    for path in sorted(SRC.rglob("*.py")):
        edges += [e for e in edges_of(path) if e.dynamic or _real_target(e)]
    return edges


EDGES = all_edges()


def cross_package(edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if not e.dynamic and e.source_package != e.target_package]


def test_the_parser_sees_every_kind_of_import() -> None:
    """Function-level, TYPE_CHECKING, relative and importlib imports all count."""
    text = (
        "from __future__ import annotations\n"
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from atelier.notifications import feed\n"
        "def f(name):\n"
        "    from ..tasks import service\n"
        "    import atelier.media.service\n"
        "    importlib.import_module('atelier.flows.executor')\n"
        "    return importlib.import_module(name)\n"
    )
    edges = edges_of_source(text, "atelier.production.service")
    targets = {e.target for e in edges}
    assert "atelier.notifications" in targets
    assert "atelier.notifications.feed" in targets
    assert "atelier.tasks.service" in targets
    assert "atelier.media.service" in targets
    assert "atelier.flows.executor" in targets
    assert any(e.dynamic for e in edges)
    assert {e.source_package for e in edges} == {"production"}


def test_every_package_has_a_tier() -> None:
    packages = {package_of(module_name(p)) for p in SRC.rglob("*.py")}
    missing = sorted(packages - set(TIER))
    assert not missing, f"add these packages to LAYERS in {__file__}: {missing}"


def _against_the_order(edges: list[Edge]) -> list[Edge]:
    return [
        e
        for e in cross_package(edges)
        if TIER.get(e.target_package, 99) >= TIER.get(e.source_package, -1)
    ]


def test_no_upward_or_sideways_import() -> None:
    bad = sorted(
        {
            f"{e.module}:{e.line} imports {e.target_package} "
            f"({e.source_package} tier {TIER.get(e.source_package)} → "
            f"{e.target_package} tier {TIER.get(e.target_package)})"
            for e in _against_the_order(EDGES)
        }
    )
    assert not bad, "imports against the dependency order:\n" + "\n".join(bad)


def test_no_computed_imports_outside_the_composition_root() -> None:
    bad = [str(e) for e in EDGES if e.dynamic and e.module not in DYNAMIC_IMPORT_ALLOWED]
    assert not bad, "import_module with a computed name (mypy cannot see it):\n" + "\n".join(bad)


def test_no_importlib_lookups_of_atelier_modules() -> None:
    """``importlib.import_module("atelier....")`` hides a dependency from mypy: import it."""
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_dynamic_import(node) and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and str(arg.value).startswith("atelier"):
                    bad.append(f"{module_name(path)}:{node.lineno} {arg.value}")
    assert not bad, "\n".join(bad)


def test_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in cross_package(EDGES):
        graph[edge.source_package].add(edge.target_package)
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle between packages: " + " → ".join(cycle or [])


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


@pytest.mark.parametrize(
    ("graph", "has_cycle"),
    [
        ({"a": {"b"}, "b": {"c"}}, False),
        ({"a": {"b"}, "b": {"a"}}, True),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
    ],
)
def test_cycle_finder(graph: dict[str, set[str]], has_cycle: bool) -> None:
    assert (_find_cycle(graph) is not None) is has_cycle
