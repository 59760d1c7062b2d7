"""Imports flow one way: each module of flask_linkback imports only its own layer and those below.

The layers (ARCHITECTURE.md): base modules import nothing above them; ``state``
sits on the base; services and pipelines use both; the endpoints (protocol
views, admin) use the pipelines; ``extension`` and ``cli`` wire everything; the
package's ``__init__`` re-exports the public API. Every import that runs counts,
whether at the top of a module or inside a function; imports under
``if TYPE_CHECKING:`` never run and are only read by type checkers, so they do
not. Importing ``flask_linkback.inbound.receive`` also runs
``flask_linkback/inbound/__init__.py``, so that edge is counted too.

A new module must be given a layer below, which is the point: where it sits is
a decision, not an accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "flask_linkback"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

#: Lowest first. Names are relative to the package ("" is its ``__init__``).
LAYERS: list[tuple[str, list[str]]] = [
    ("base", ["__about__", "config", "urls", "signals", "host", "html", "mf2", "fetch", "site",
              "models", "owner_models", "logtext", "environment", "site_url"]),
    ("state", ["state"]),
    ("services", ["settings", "inbound", "inbound.model", "inbound.refusal", "inbound.body",
                  "inbound.rules", "inbound.verify", "inbound.ratelimit", "outbound",
                  "outbound.model", "outbound.webmention", "outbound.discover",
                  "outbound.deliver", "outbound.check", "tables", "refusals", "notify"]),
    ("pipelines", ["inbound.receive", "inbound.queue", "outbound.outbox", "outbound.worker",
                   "outbound.scheduler", "presentation", "wordpress_import"]),
    ("endpoints", ["inbound.pingback", "inbound.trackback", "inbound.webmention",
                   "inbound.blueprint", "admin", "admin.forms", "admin.views",
                   "admin.owner_views", "feeds"]),
    ("wiring", ["owner", "cli", "extension", "webmention_discovery"]),
    ("public", [""]),
]


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name (relative to the package) -> (file, is a package ``__init__``)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def _imported(name: str, is_package: bool, node: ast.Import | ast.ImportFrom,
              modules: dict[str, tuple[Path, bool]]) -> set[str]:
    """The package modules one import statement runs (relative names, own module excluded)."""
    targets: list[str] = []
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        if node.level:
            base = [PACKAGE, *name.split(".")] if name else [PACKAGE]
            if not is_package:
                base = base[:-1]
            base = base[:len(base) - (node.level - 1)]
            module = ".".join([*base, *([node.module] if node.module else [])])
        else:
            module = node.module or ""
        targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
    runs: set[str] = set()
    for target in targets:
        if target != PACKAGE and not target.startswith(PACKAGE + "."):
            continue
        relative = target[len(PACKAGE) + 1:]
        if relative not in modules:
            continue  # ``from .x import name``: the name, not a module
        # Importing a.b.c runs a/__init__ and a/b/__init__ first.
        parts = relative.split(".")
        runs.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    # The importer's own packages are already running; the root package always is.
    own = name.split(".")
    runs -= {".".join(own[:i]) for i in range(len(own) + 1)}
    runs.discard("")
    return runs


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped:
                graph[name] |= _imported(name, is_package, node, modules)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer() -> None:
    declared = [name for _, names in LAYERS for name in names]
    assert len(declared) == len(set(declared)), "a module is in two layers"
    missing = sorted(set(_modules()) - set(declared))
    assert not missing, f"give these modules a layer in LAYERS: {missing}"
    gone = sorted(set(declared) - set(_modules()))
    assert not gone, f"LAYERS names modules that do not exist: {gone}"


def test_no_import_cycles() -> None:
    cycles = _cycles(import_graph())
    assert not cycles, "modules importing each other (at run time): " + "; ".join(
        " <-> ".join(f"{PACKAGE}.{m}".rstrip(".") for m in cycle) for cycle in cycles)


def test_imports_point_down() -> None:
    layer_of = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}
    upward = sorted(
        f"{PACKAGE}.{name} ({LAYERS[layer_of[name]][0]}) imports "
        f"{PACKAGE}.{target} ({LAYERS[layer_of[target]][0]})"
        for name, targets in import_graph().items() if name in layer_of
        for target in targets if target in layer_of and layer_of[target] > layer_of[name])
    assert not upward, "imports pointing up a layer:\n" + "\n".join(upward)


@pytest.mark.parametrize("module", ["flask_linkback.models", "flask_linkback.state"])
def test_base_modules_import_no_subpackage(module: str) -> None:
    """The models and the state are usable without loading inbound/, outbound/ or admin/."""
    name = module[len(PACKAGE) + 1:]
    reached: set[str] = set()
    todo = [name]
    graph = import_graph()
    while todo:
        for target in graph[todo.pop()] - reached:
            reached.add(target)
            todo.append(target)
    assert not {m for m in reached if m.split(".")[0] in ("inbound", "outbound", "admin")}


def test_a_function_level_import_cycle_is_caught() -> None:
    """The checker itself: a cycle hidden in a function body still counts."""
    modules = {"a": (Path("a.py"), False), "b": (Path("b.py"), False)}
    tree = ast.parse("def f():\n    from .b import thing\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    graph = {"a": _imported("a", False, node, modules), "b": {"a"}}
    assert _cycles(graph) == [["a", "b"]]
