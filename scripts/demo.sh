#!/usr/bin/env bash
# The main job on the built-in data (sets up first). Until `vap train` lands, this runs the data layer:
# make the built-in moving-digits dataset, check every video, and benchmark decoding on the samples.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
VAP="${VAP_VENV:-.venv}/bin/vap"
"$VAP" data make moving-digits --out datasets/moving-digits
"$VAP" check datasets/moving-digits/train.txt --out outputs/moving-digits-quarantine.json
"$VAP" check datasets/samples --out outputs/samples-quarantine.json
"$VAP" bench-data --clips 20 --repeats 3 --out outputs/bench/data.md
echo "demo: dataset in datasets/moving-digits, quarantine lists and benchmark in outputs/"
