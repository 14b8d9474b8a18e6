#!/usr/bin/env bash
# Data-layer benchmark: writes docs/bench/data.md and docs/bench/data.json (quoted by the README).
# Takes about 5 minutes on a 2-core machine, plus about a minute the first time to make the
# 10-minute 720p test video used for the memory figure (kept in ~/.cache/vap/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
"${VAP_VENV:-.venv}/bin/vap" bench-data --clips 40 --repeats 5 --long-video --out docs/bench/data.md "$@"
