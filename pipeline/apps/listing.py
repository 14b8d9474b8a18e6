"""`vap list`: every registry and what is registered in it."""

from __future__ import annotations

import argparse
import importlib

from pipeline.errors import UnknownNameError

# Modules whose import registers parts; a module that is not written yet is skipped.
REGISTERING_MODULES = (
    "pipeline.data.backends",
    "pipeline.data.samplers",
    "pipeline.data.transforms",
    "pipeline.data.annotations",
    "pipeline.data.makers",
    "pipeline.layers",
    "pipeline.models",
    "pipeline.inference.summarize.video",
    "pipeline.models.glimpse_video",
    "pipeline.tasks",
)


def load_registries() -> dict:
    from pipeline.registry import ALL_REGISTRIES

    for name in REGISTERING_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
    return ALL_REGISTRIES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list the registered parts (backends, samplers, transforms, formats, ...)")
    p.add_argument("kind", nargs="?", help="only this registry (e.g. backend, sampler)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    registries = load_registries()
    if args.kind and args.kind not in registries:
        raise UnknownNameError(f"unknown registry {args.kind!r}; allowed: {', '.join(sorted(registries))}")
    console = Console()
    for kind, reg in registries.items():
        if args.kind and kind != args.kind:
            continue
        table = Table(title=f"{kind} ({len(reg)})", title_justify="left", show_header=False, box=None)
        for name in reg:
            table.add_row(f"[bold]{name}[/]", reg.describe(name))
        console.print(table)
        console.print()
    if not args.kind and "backend" in registries:
        from pipeline.data.backends import available_backends

        console.print(f"installed backends: {', '.join(available_backends()) or 'none'}")
    return 0
