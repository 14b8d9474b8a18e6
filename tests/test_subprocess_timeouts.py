"""Every subprocess the package or its scripts start runs under a timeout: a hung child fails the
command instead of hanging it."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CALLS = {"run", "call", "check_call", "check_output"}  # subprocess functions that wait for the child


def calls_without_timeout(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        is_wait = node.func.attr in CALLS and isinstance(owner, ast.Name) and owner.id == "subprocess"
        if is_wait and not any(k.arg == "timeout" for k in node.keywords):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_every_subprocess_call_has_a_timeout():
    files = [*REPO.joinpath("pipeline").rglob("*.py"), *REPO.joinpath("scripts").glob("*.py")]
    missing = [where for f in files for where in calls_without_timeout(f)]
    assert not missing, f"subprocess calls without timeout=: {missing}"
