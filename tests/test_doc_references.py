"""Every path the code, configs and docs mention exists (no stale references): the `docs/...` reports and
pages, the `scripts/...` scripts, and every relative Markdown link of the README, the guides and the
READMEs under scripts/."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS_PATH = re.compile(r"\bdocs/[\w./-]+\.(?:md|json|png)")
SCRIPTS_PATH = re.compile(r"(?<![\w./-])scripts/[\w./-]+\.(?:py|sh|md)")  # not the tail of another path
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)


def mentioning_files() -> list[Path]:
    """The code, configs, scripts (with their READMEs and reports) and docs that name paths."""
    files = [*REPO.joinpath("pipeline").rglob("*.py"), *REPO.joinpath("tests").rglob("*.py"),
             *REPO.joinpath("configs").rglob("*.yaml"), *REPO.joinpath("docs").rglob("*.md")]  # fmt: skip
    files += [f for ext in ("py", "sh", "md") for f in REPO.joinpath("scripts").rglob(f"*.{ext}")]
    files.append(REPO / "README.md")
    return [f for f in files if f.is_file()]


def is_report(path: Path) -> bool:
    """A benchmark's or a study's report: it records the command that made it, as it was run then."""
    rel = path.relative_to(REPO).parts
    return rel[:2] == ("docs", "bench") or "results" in rel


def test_every_docs_reference_exists():
    stale = [
        f"{f.relative_to(REPO)}: {m}"
        for f in mentioning_files()
        for m in DOCS_PATH.findall(f.read_text(errors="replace"))
        if not (REPO / m).exists()
    ]
    assert not stale, stale


def test_every_scripts_reference_exists():
    stale = [
        f"{f.relative_to(REPO)}: {m}"
        for f in mentioning_files()
        if not is_report(f)
        for m in SCRIPTS_PATH.findall(f.read_text(errors="replace"))
        if not (REPO / m).exists()
    ]
    assert not stale, stale


def test_every_relative_markdown_link_resolves():
    pages = [REPO / "README.md", *REPO.joinpath("docs").rglob("*.md"), *REPO.joinpath("scripts").rglob("README.md")]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text(errors="replace")):
            path = target.split("#", 1)[0]
            if not path or re.match(r"^[a-z][a-z0-9+.-]*:", path):  # an anchor on the page itself, or a URL
                continue
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
    assert not broken, broken
