#!/usr/bin/env bash
# Set up everything on a fresh machine; fast (a few seconds) when nothing changed.
#   - Debian's ffmpeg (TorchCodec loads its shared libraries; `vap data reencode` uses the program)
#   - a virtualenv (.venv, or $VAP_VENV) with this package, editable, and its dev tools
# Re-run it any time: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VAP_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

if ! command -v ffmpeg >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep -q libavcodec; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ffmpeg (Debian package)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
  else
    echo "setup: please install ffmpeg (e.g. 'sudo apt-get install ffmpeg'); TorchCodec needs its libraries" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.vap-setup-stamp"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the package and its dependencies into $VENV (first time: a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  "$VENV/bin/python" -m pip install -q -e ".[dev]" 2>&1 | grep -vE "is ignored|^\s*$" || true
  "$VENV/bin/python" -c "import torch, torchvision, decord, av, torchcodec.decoders, lightning, wandb, einops" \
    || { echo "setup: the install is incomplete (see the pip messages above)" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
