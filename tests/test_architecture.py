"""The architecture docs/architecture.md describes, held by test: read from the source (AST),
without importing the code under test, except the one check whose subject is importing.

Each rule names what it allows; a breach fails with the files and lines that break it.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "clippost"
MAX_MODULE_LINES = 450
MAX_MUTUAL_PAIRS = 2
# (module, library) pairs imported inside functions, each for a reason.
LAZY_LIBRARIES = {
    # A process that finds its schema at the head never needs Alembic (with Mako, ~150 ms).
    ("clippost.db.migrate", "alembic"),
}
# Where a module may tell the two databases apart (invariant 5): db/ (every difference,
# behind helpers), the claim (PostgreSQL's SKIP LOCKED and its planner setting) and the
# Alembic migrations (the schema's history: batch mode on SQLite, fillfactor on PostgreSQL).
DIALECT_PLACES = ("db/", "outbox/claims.py", "migrations/")
# What code outside those places must not use to ask which database it is on.
DIALECT_NAMES = frozenset({"is_sqlite", "is_postgresql", "dialect_of", "SQLITE", "POSTGRESQL"})
DIALECT_STRINGS = frozenset({"sqlite", "postgresql"})


@dataclass(frozen=True)
class Import:
    module: str  # the module imported, dotted
    line: int
    in_function: bool


@dataclass(frozen=True)
class Module:
    path: Path  # relative to src/clippost
    tree: ast.Module
    lines: int

    @property
    def package(self) -> str:
        """The top-level package or module under clippost: `outbox`, `runtime`, `links`."""
        return self.path.parts[0].removesuffix(".py")

    @property
    def name(self) -> str:
        parts = ("clippost", *self.path.with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    def where(self, line: int) -> str:
        return f"{self.path.as_posix()}:{line}"


@cache
def modules() -> tuple[Module, ...]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        found.append(Module(path.relative_to(SRC), ast.parse(text), text.count("\n")))
    return tuple(found)


def imports(module: Module) -> Iterator[Import]:
    """Every import statement, at any depth, with the module it names (`from a import b`
    names a.b too when b is a submodule: both are yielded)."""
    functions = {
        id(inner)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(node)
    }
    for node in ast.walk(module.tree):
        nested = id(node) in functions
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, nested)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            yield Import(base, node.lineno, nested)
            for alias in node.names:
                yield Import(f"{base}.{alias.name}", node.lineno, nested)


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    if module.path.name != "__init__.py":
        package = package[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, *([node.module] if node.module else [])])


def package_of(dotted: str) -> str | None:
    parts = dotted.split(".")
    if parts[0] != "clippost" or len(parts) < 2:
        return None
    return parts[1]


def import_graph() -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) -> where, for every import between two."""
    known = {module.package for module in modules()}
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module in modules():
        for imported in imports(module):
            target = package_of(imported.module)
            if target in known and target != module.package:
                edges[(module.package, target)].append(module.where(imported.line))
    return edges


def mutual_pairs(edges: dict[tuple[str, str], list[str]]) -> dict[tuple[str, str], list[str]]:
    return {(a, b): edges[(a, b)] + edges[(b, a)] for (a, b) in edges if a < b and (b, a) in edges}


def in_place(module: Module, places: tuple[str, ...]) -> bool:
    path = module.path.as_posix()
    return any(path == place or path.startswith(place) for place in places)


def dialect_checks(module: Module) -> list[str]:
    """Where `module` asks which database it is on, in any of the ways code has asked:
    a dialect's name in a string, a URL's scheme tested, `dialect.name`, `is_sqlite` and the
    db.dialect names that answer the question, imports from sqlalchemy.dialects."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    found = [
        module.where(node.lineno)
        for node in ast.walk(module.tree)
        if id(node) not in docstrings and _asks_dialect(node)
    ]
    for imported in imports(module):
        name = imported.module
        if name.startswith("sqlalchemy.dialects") or (
            name.startswith("clippost.db.dialect.") and name.rsplit(".", 1)[1] in DIALECT_NAMES
        ):
            found.append(module.where(imported.line))
    return found


def _asks_dialect(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in DIALECT_NAMES
    if isinstance(node, ast.Attribute):
        value = node.value
        names_dialect = (isinstance(value, ast.Attribute) and value.attr == "dialect") or (
            isinstance(value, ast.Name) and value.id == "dialect"
        )
        return node.attr in DIALECT_NAMES or (node.attr == "name" and names_dialect)
    if isinstance(node, ast.Constant):
        return node.value in DIALECT_STRINGS
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        # `url.startswith("sqlite")`: a URL's scheme taken for its dialect
        return node.func.attr in ("startswith", "removeprefix") and any(
            isinstance(arg, ast.Constant)
            and isinstance(arg.value, str)
            and arg.value.startswith(("sqlite", "postgres"))
            for arg in node.args
        )
    return False


def third_party(module: Module, prefixes: tuple[str, ...]) -> list[str]:
    return [
        module.where(imported.line)
        for imported in imports(module)
        if imported.module.split(".")[0] in prefixes
    ]


class TestPackages:
    def test_at_most_two_pairs_of_packages_import_each_other(self) -> None:
        """Counting every import (function-level ones too), few package pairs are mutual."""
        pairs = mutual_pairs(import_graph())
        assert len(pairs) <= MAX_MUTUAL_PAIRS, json.dumps(
            {f"{a} <-> {b}": where for (a, b), where in pairs.items()}, indent=1
        )

    def test_imports_inside_functions_only_in_the_cli(self) -> None:
        """Lazy imports of clippost's own modules (which can hide a cycle) are the CLI's
        alone, for a fast --help; of a library, only where `LAZY_LIBRARIES` says why."""
        lazy = [
            module.where(imported.line)
            for module in modules()
            if module.package != "cli"
            for imported in imports(module)
            if imported.in_function
            and (module.name, imported.module.split(".")[0]) not in LAZY_LIBRARIES
        ]
        assert lazy == []

    def test_every_module_imports_on_its_own(self) -> None:
        """No import cycle hides behind the order in which modules happened to be imported
        first. Only a module on a cycle of module-level imports (TYPE_CHECKING and function
        imports aside; a submodule imports its package first) can fail on its own and pass
        after another: each of those imports in a fresh interpreter state, and every other
        module then once, in one state, to show it imports at all."""
        cycles = modules_on_import_cycles()
        names = [m.name for m in modules() if m.package not in ("__main__", "migrations")]
        assert cycles  # the graph is read: packages importing their own modules make cycles
        assert cycles <= set(names)
        script = (
            "import importlib, json, sys, traceback\n"
            "failed = {}\n"
            "fresh, rest = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n"
            "for name in fresh + [None]:\n"
            "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'clippost']:\n"
            "        del sys.modules[loaded]\n"
            "    for one in [name] if name else rest:\n"
            "        try:\n"
            "            importlib.import_module(one)\n"
            "        except Exception:\n"
            "            failed[one] = traceback.format_exc(limit=-3)\n"
            "print(json.dumps(failed))\n"
        )
        fresh = sorted(cycles)
        rest = [name for name in names if name not in cycles]
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps(fresh), json.dumps(rest)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        failed = json.loads(done.stdout.splitlines()[-1])
        assert failed == {}, "\n".join(f"{name}:\n{error}" for name, error in failed.items())


def modules_on_import_cycles() -> set[str]:
    """The modules on a cycle of the module-level import graph (its strongly connected
    components of more than one module, by Tarjan's algorithm)."""
    known = {m.name: m for m in modules()}
    graph: dict[str, set[str]] = {}
    for name, module in known.items():
        typing_only = {
            inner.lineno
            for node in ast.walk(module.tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
            if isinstance(inner, ast.Import | ast.ImportFrom)
        }
        parent = name.rpartition(".")[0]
        graph[name] = {parent} if parent in known else set()
        graph[name] |= {
            imported.module
            for imported in imports(module)
            if not imported.in_function
            and imported.line not in typing_only
            and imported.module in known
            and imported.module != name
        }
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_cycle: set[str] = set()

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for target in graph[node]:
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                on_cycle.update(component)

    for node in graph:
        if node not in order:
            visit(node)
    return on_cycle


class TestLayers:
    def test_only_the_web_layer_knows_http_frameworks(self) -> None:
        """fastapi and starlette are imported only under web/ and in app.py."""
        found = [
            where
            for module in modules()
            if not in_place(module, ("web/", "app.py"))
            for where in third_party(module, ("fastapi", "starlette"))
        ]
        assert found == []

    def test_pure_packages_import_no_sqlalchemy(self) -> None:
        """The import engine, selection and rendering never touch a database."""
        found = [
            where
            for module in modules()
            if in_place(module, ("clippings/", "selection/", "rendering/"))
            for where in third_party(module, ("sqlalchemy",))
        ]
        assert found == []

    def test_dialect_checks_live_in_db_and_the_claim(self) -> None:
        """Outside db/, the claim and the migrations, no code asks which database it is on:
        no dialect names, no `is_sqlite`, no sqlalchemy.dialects (invariant 5)."""
        found = [
            where
            for module in modules()
            if not in_place(module, DIALECT_PLACES)
            for where in dialect_checks(module)
        ]
        assert found == []

    def test_no_module_is_over_the_line_limit(self) -> None:
        """Every module in src/ has at most 450 lines."""
        long = {m.path.as_posix(): m.lines for m in modules() if m.lines > MAX_MODULE_LINES}
        assert long == {}


class TestArchitectureDoc:
    # `path/with/a/slash.py`, `module.py` or a dotted name under clippost, in backticks.
    _NAMED = re.compile(r"`((?:[\w-]+/)*[\w-]+\.(?:py|md)|(?:[\w]+/)+)`")

    def test_every_module_and_test_it_names_exists(self) -> None:
        """Each file or folder docs/architecture.md names in backticks exists in the tree."""
        text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
        named = set(self._NAMED.findall(text))
        assert len(named) > 30, "the architecture doc names the modules and tests it relies on"
        missing = sorted(name for name in named if not self._exists(name))
        assert missing == []

    def test_every_test_it_names_exists(self) -> None:
        """Each test or test class docs/architecture.md names in backticks is in tests/."""
        text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
        named = set(re.findall(r"`((?:test_|Test)\w+)`", text))
        defined = {
            node.name
            for path in (ROOT / "tests").rglob("test_*.py")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        }
        assert named, "the architecture doc names the tests that prove the invariants"
        assert sorted(named - defined) == []

    @staticmethod
    def _exists(name: str) -> bool:
        """From the repository, from src/clippost, or inside a package of src/clippost
        (the package table names `claims.py` in the outbox row)."""
        if any((base / name).exists() for base in (ROOT, SRC, ROOT / "docs")):
            return True
        return any(SRC.glob(f"*/{name}"))
