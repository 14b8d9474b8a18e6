"""Where the experiment configs are, in a source checkout and in an installed package.

A source checkout keeps them in the top-level `configs/`; a wheel ships the same files as
`pipeline/configs/` (setup.py maps the folder into the package). `--config NAME` also finds a shipped
config by its name (`moving_digits_lstm`, `ucf101_tsn_r50.yaml`), so an installed `vap` runs them
from any folder.
"""

from __future__ import annotations

from pathlib import Path

import pipeline

_PACKAGE = Path(pipeline.__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent / "configs"


def configs_dir() -> Path:
    """The shipped configs: inside the installed package, else the source checkout's `configs/`."""
    shipped = _PACKAGE / "configs"
    return shipped if shipped.is_dir() else _CHECKOUT


def shipped_configs() -> list[str]:
    """The names of the experiment configs (the top-level YAML files; the sub-folders are their parts)."""
    return sorted(p.stem for p in configs_dir().glob("*.yaml"))


def resolve_config(value: str) -> str:
    """A config path as given when it exists, else the shipped config of that name, else the value as is
    (LightningCLI then says what is wrong with it)."""
    if Path(value).exists():
        return value
    name = Path(value).name if Path(value).parent == Path("configs") else value
    candidate = configs_dir() / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    return str(candidate) if candidate.is_file() else value


def resolve_config_args(args: list[str]) -> list[str]:
    """`--config X` / `-c X` / `--config=X` with X resolved by `resolve_config`."""
    out: list[str] = []
    take = False
    for a in args:
        if take:
            out.append(resolve_config(a))
            take = False
        elif a in ("--config", "-c"):
            out.append(a)
            take = True
        elif a.startswith(("--config=", "-c=")):
            flag, value = a.split("=", 1)
            out.append(f"{flag}={resolve_config(value)}")
        else:
            out.append(a)
    return out
