"""Every third-party module the package imports is declared in pyproject.toml, and every declared runtime
requirement is used: a fresh `pip install` of the wheel has what `vap` imports, and nothing it does not."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[1]


def imported_modules(package: Path) -> set[str]:
    """Top-level names of every module imported anywhere in `package` (module level or in a function)."""
    names = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {package.name, "__future__"}


def requirement_name(spec: str) -> str:
    return re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0].lower().replace("_", "-")


def declared(pyproject: Path) -> tuple[set[str], set[str]]:
    """(runtime requirements, optional-extra requirements), as normalised distribution names."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras = {requirement_name(s) for specs in project.get("optional-dependencies", {}).values() for s in specs}
    return {requirement_name(s) for s in project["dependencies"]}, extras


def distributions(module: str) -> set[str]:
    """The installed distributions that provide a top-level module (`PIL` -> {"pillow"})."""
    found = importlib.metadata.packages_distributions().get(module, [])
    return {d.lower().replace("_", "-") for d in found}


def check(package: Path, pyproject: Path) -> tuple[list[str], list[str]]:
    """(imported but undeclared, declared at run time but never imported)."""
    runtime, extras = declared(pyproject)
    missing, used = [], set()
    for module in sorted(imported_modules(package)):
        dists = distributions(module) or {module.lower()}
        used |= dists
        if not dists & (runtime | extras):
            missing.append(f"{module} (from {', '.join(sorted(dists))})")
    return missing, sorted(runtime - used)


def test_every_import_of_the_package_is_declared_and_every_requirement_used():
    missing, unused = check(REPO / "pipeline", REPO / "pyproject.toml")
    assert missing == [], f"imported by pipeline/ but not in pyproject.toml: {missing}"
    assert unused == [], f"declared in pyproject.toml but not imported by pipeline/: {unused}"


def test_the_check_finds_an_undeclared_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("import os\ndef f():\n    import yaml\n    from pkg import b\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["numpy>=1"]\n')
    missing, unused = check(tmp_path / "pkg", tmp_path / "pyproject.toml")
    assert missing == ["yaml (from pyyaml)"] and unused == ["numpy"]
