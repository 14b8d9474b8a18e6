#!/usr/bin/env bash
# Run the test suite (sets up first). Extra arguments go to pytest, e.g. `scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec "${VAP_VENV:-.venv}/bin/python" -m pytest "$@"
