"""The package's shape: no import cycle, nothing imports upward from the foundations,
no module grows past what one reader holds in mind, and the tests mirror the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mailbot"
#: The foundations: they may import each other's modules and the shared basics, never
#: the layers built on them (intake, cases, outbound, jobs, sprg, web, cli, app).
FOUNDATIONS = ("mailbot.store", "mailbot.mail", "mailbot.forms")
BASICS = (
    "mailbot.errors",
    "mailbot.clock",
    "mailbot.logs",
    "mailbot.settings",
    "mailbot.workdays",
    "mailbot.safetext",
)
MAX_LINES = 420


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` imports are for types only
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mailbot"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("mailbot"))
    return found


def resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def test_no_import_cycle_between_modules() -> None:
    known = modules()
    graph = {
        name: {
            target
            for imp in imports(path, top_level_only=True)
            if (target := resolve(imp, known)) and target != name and not name.startswith(target + ".")
        }  # a package's own __init__
        for name, path in known.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


@pytest.mark.parametrize("foundation", FOUNDATIONS)
def test_foundations_never_import_upward(foundation: str) -> None:
    allowed = (*FOUNDATIONS, *BASICS)
    wrong = []
    for name, path in modules().items():
        if name != foundation and not name.startswith(foundation + "."):
            continue
        for imp in imports(path, top_level_only=False):
            if imp == "mailbot" or not imp.startswith(allowed):
                wrong.append(f"{name} imports {imp}")
    assert wrong == []


def test_no_module_is_too_long() -> None:
    long = {
        name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_tests_mirror_the_packages() -> None:
    packages = {
        p.name
        for p in PACKAGE.iterdir()
        if (p / "__init__.py").exists() and p.name not in ("templates", "static", "demo_data")
    }
    test_dirs = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir()}
    assert packages - test_dirs == set()


def test_test_modules_do_not_import_each_other() -> None:
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and (node.module.split(".")[-1].startswith("test_") or node.module == "conftest")
            ):
                offenders.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert offenders == []
