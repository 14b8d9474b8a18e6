#!/usr/bin/env bash
# The main job on the built-in data (sets up first): `vap train` with the default experiment, which
# generates the moving-digits dataset on first use, trains a tiny CNN + LSTM with temporal attention on the
# CPU (or a GPU when there is one), and prints where the checkpoint, the metrics and the W&B run are.
# Extra arguments go to `vap train`, e.g. `scripts/demo.sh --trainer.max_epochs 3`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec "${VAP_VENV:-.venv}/bin/vap" train "$@"
