"""Only what pyproject.toml cannot say: the top-level `configs/` folder ships inside the package as
`pipeline/configs/` (with its part folders), so an installed `vap` finds its experiment configs
(pipeline/apps/configs.py)."""

from pathlib import Path

from setuptools import find_packages, setup

parts = sorted(p.name for p in Path(__file__).parent.joinpath("configs").iterdir() if p.is_dir())
configs = {"pipeline.configs": "configs", **{f"pipeline.configs.{p}": f"configs/{p}" for p in parts}}

setup(
    packages=[*find_packages(include=["pipeline", "pipeline.*"]), *configs],
    package_dir=configs,
    package_data={name: ["*.yaml"] for name in configs},
)
