"""The package's floors: each imports only the floors below it, no app imports another app, no cycles.

    0 errors, registry, env   1 data   2 layers   3 models   4 viz   5 tasks   6 inference   7 apps   8 cli
Every import counts, at module level or inside a function (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"
FLOORS = {"__init__": 0, "errors": 0, "registry": 0, "env": 0, "data": 1, "layers": 2, "models": 3, "viz": 4,
          "tasks": 5, "inference": 6, "apps": 7, "cli": 8}  # fmt: skip


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, package: str) -> set[str]:
    """Every `package...` module that `path` imports (for `from a import b`, `a.b` when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == package}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == package:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def graph(root: Path) -> dict[str, set[str]]:
    """module -> the modules of the package it imports (names that are not modules are dropped)."""
    files = {module_name(root, p): p for p in root.rglob("*.py")}
    return {m: {t for t in imports_of(p, root.name) if t in files and t != m} for m, p in files.items()}


def floor(module: str) -> tuple[int, str]:
    """(floor number, room): the room is the app for apps (`pipeline.apps.summarize.eval` -> summarize)."""
    parts = module.split(".")[1:] or ["__init__"]
    room = parts[1] if parts[0] == "apps" and len(parts) > 1 else parts[0]
    return FLOORS[parts[0]], room


def violations(root: Path) -> list[str]:
    found = []
    for src, targets in sorted(graph(root).items()):
        (f_src, room_src), is_app = floor(src), src.split(".")[1:2] == ["apps"]
        for dst in sorted(targets):
            f_dst, room_dst = floor(dst)
            if f_dst > f_src:
                found.append(f"{src} imports {dst}, a floor above it")
            elif is_app and dst.split(".")[1:2] == ["apps"] and room_dst != room_src and dst != "pipeline.apps":
                found.append(f"{src} imports {dst}, another app")
    return found


def cycles(root: Path) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    g, index, low, stack, on, out = graph(root), {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_every_room_has_a_floor():
    rooms = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.rglob("*.py")}
    assert rooms <= set(FLOORS), rooms - set(FLOORS)


def test_no_module_imports_a_floor_above_it_or_another_app():
    assert violations(PACKAGE) == []


def test_no_import_cycle():
    assert cycles(PACKAGE) == []


@pytest.fixture
def tree(tmp_path):
    def make(files: dict[str, str]) -> Path:
        for rel, text in files.items():
            p = tmp_path / "pipeline" / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        return tmp_path / "pipeline"

    return make


def test_the_checks_catch_an_upward_import_another_app_and_a_cycle(tree):
    root = tree({
        "__init__.py": "", "data/__init__.py": "", "models/__init__.py": "", "apps/__init__.py": "",
        "data/clips.py": "def f():\n    from pipeline.models.net import Net\n",  # lazy, still upward
        "models/net.py": "from pipeline.data import clips\nclass Net: ...\n",
        "apps/score.py": "from pipeline.apps.check import run\n",
        "apps/check.py": "def run(): ...\n",
        "apps/summarize/__init__.py": "from pipeline.apps.summarize import eval\n",  # one app's own modules
        "apps/summarize/eval.py": "",
    })  # fmt: skip
    assert violations(root) == [
        "pipeline.apps.score imports pipeline.apps.check, another app",
        "pipeline.data.clips imports pipeline.models.net, a floor above it",
    ]
    assert cycles(root) == [["pipeline.data.clips", "pipeline.models.net"]]
