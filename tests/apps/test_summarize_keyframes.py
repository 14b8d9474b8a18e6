"""`vap summarize` on real footage with the product's own features (ImageNet MobileNetV2), as a user runs
it: a key frame from each of five scenes at --keyframes 5, none black or washed out in fades, --seconds
holds, and a contact sheet readable at a glance. Videos are cut from datasets/samples with ffmpeg."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.cli import main
from pipeline.data.backends import open_video
from pipeline.inference.summarize.keyframes import SHEET_HEIGHT

SAMPLES = Path(__file__).resolve().parents[2] / "datasets" / "samples"
W, H, FPS = 320, 180, 25


def _weights_cached() -> bool:
    return (Path(torch.hub.get_dir()) / "checkpoints" / "mobilenet_v2-b0353104.pth").exists()


pytestmark = [
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg program"),
    pytest.mark.skipif(not _weights_cached(), reason="needs MobileNetV2's ImageNet weights (scripts/setup.sh)"),
]

# (source, seconds): real footage and two of ffmpeg's own pictures, lengths far apart
SCENES = [("bikes.mp4", 6.0), ("lavfi:mandelbrot", 1.5), ("bigbuckbunny.mp4", 4.0), ("carphone_pristine.mp4", 1.5),
          ("lavfi:smptebars", 3.0)]  # fmt: skip


def _input(source: str, seconds: float) -> list[str]:
    if source.startswith("lavfi:"):
        return ["-f", "lavfi", "-i", f"{source[6:]}=size={W}x{H}:rate={FPS}"]
    return ["-stream_loop", "-1", "-i", str(SAMPLES / source)]


def _cut(path: Path, scenes: list[tuple[str, float]], fades: str = "") -> Path:
    """The scenes one after another, each scaled to WxH at FPS, hard cuts; `fades` filters the result."""
    args, chains = [], []
    for i, (source, seconds) in enumerate(scenes):
        args += _input(source, seconds)
        chains.append(f"[{i}]trim=duration={seconds},setpts=PTS-STARTPTS,scale={W}:{H},setsar=1,fps={FPS}[s{i}]")
    joined = "".join(f"[s{i}]" for i in range(len(scenes)))
    graph = ";".join(chains) + f";{joined}concat=n={len(scenes)}:v=1[c];[c]{fades or 'null'}[v]"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(path)], check=True, timeout=120)  # fmt: skip
    return path


def _scene_of(frame: int, scenes: list[tuple[str, float]]) -> int:
    ends = np.cumsum([round(s * FPS) for _, s in scenes])
    return int(np.searchsorted(ends, frame, side="right"))


def test_five_scenes_give_one_key_frame_each(tmp_path):
    video = _cut(tmp_path / "five scenes.mp4", SCENES)
    out = tmp_path / "out"
    assert main(["summarize", str(video), "--out", str(out), "--keyframes", "5"]) == 0
    s = json.loads((out / "five scenes" / "summary.json").read_text())
    assert s["method"] == "coverage" and s["settings"]["keyframes"] == 5
    assert sorted(_scene_of(k, SCENES) for k in s["keyframes"]) == [0, 1, 2, 3, 4]
    shots = s["shots"]  # content shots: a cut at every scene change, within a sampling step (12 frames)
    starts = [a for a, _ in shots]
    for end in np.cumsum([round(t * FPS) for _, t in SCENES])[:-1]:
        assert min(abs(a - end) for a in starts) <= 12, (end, starts)
    jpgs = sorted((out / "five scenes" / "keyframes").glob("*.jpg"))
    assert len(jpgs) == 5
    sheet = Image.open(out / "five scenes" / "contact_sheet.jpg")
    assert sheet.height >= 2 * SHEET_HEIGHT and sheet.width >= 4 * round(SHEET_HEIGHT * W / H)  # 2 rows of 4
    with open_video(out / "five scenes" / "summary.mp4") as v:  # the kept shots, at most 2 s of each
        assert v.meta.num_frames == sum(b - a + 1 for a, b in s["clips"]) <= 5 * 2 * FPS


def _luma(path: Path) -> float:
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    return float((rgb @ [0.299, 0.587, 0.114]).mean())


def test_fades_give_no_black_or_washed_out_key_frame_and_seconds_hold(tmp_path):
    scenes = [("bikes.mp4", 4.0), ("bigbuckbunny.mp4", 4.0), ("carphone_pristine.mp4", 4.0)]
    # a trailer's black fade-in, a fade through white between the second and third scene, a fade-out
    fades = "fade=t=in:st=0:d=1.5,fade=t=out:st=6.5:d=1.5:color=white,fade=t=out:st=10.5:d=1.5"
    video = _cut(tmp_path / "trailer.mp4", scenes, fades)
    out = tmp_path / "out"
    assert main(["summarize", str(video), "--out", str(out), "--keyframes", "6", "--no-video"]) == 0
    folder = out / "trailer"
    s = json.loads((folder / "summary.json").read_text())
    lumas = [_luma(p) for p in sorted((folder / "keyframes").glob("*.jpg"))]
    assert len(lumas) == len(s["keyframes"]) >= 3
    assert all(25 < y < 230 for y in lumas), lumas  # no black, no washed-out frame
    assert any(k < 1.5 * FPS for k in s["bad_frames"])  # the fade-in was seen, and refused
    assert main(["summarize", str(video), "--out", str(out / "s"), "--seconds", "3"]) == 0
    s = json.loads((out / "s" / "trailer" / "summary.json").read_text())
    assert 0 < sum(b - a + 1 for a, b in s["clips"]) <= 3 * FPS and s["settings"]["seconds"] == 3
