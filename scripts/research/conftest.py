"""Research tests are not the product's: every test below scripts/research/ is marked `slow`, so the default
suite (`-m 'not slow'` in pyproject.toml) leaves them out. Run them with `pytest scripts/research -m slow`."""

from __future__ import annotations

from pathlib import Path

import pytest

RESEARCH = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if RESEARCH in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.slow)
