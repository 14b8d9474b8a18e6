"""Every `docs/...` path the code, configs and docs mention exists (no stale references)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PATTERN = re.compile(r"\bdocs/[\w./-]+\.(?:md|json|png)")


def test_every_docs_reference_exists():
    files = [*REPO.joinpath("pipeline").rglob("*.py"), *REPO.joinpath("tests").rglob("*.py"),
             *REPO.joinpath("configs").rglob("*.yaml"), *REPO.joinpath("scripts").glob("*"),
             *REPO.joinpath("docs").rglob("*.md"), REPO / "README.md"]  # fmt: skip
    stale = [
        f"{f.relative_to(REPO)}: {m}"
        for f in files
        if f.is_file()
        for m in PATTERN.findall(f.read_text(errors="replace"))
        if not (REPO / m).exists()
    ]
    assert not stale, stale
