"""The README's `vap score --window --plot` picture, on the real sample videos (datasets/samples).

The three samples are three scenes: `animation` (Big Buck Bunny), `street` (bikes), `in_car` (carphone).
Their first 60% is cut into 1-second training clips (one every 0.25 s) and a tiny CNN + LSTM (the default
experiment's model) is trained on
them with `vap train` (40 epochs); their last 40%, never seen in training, is cut together three
times in different orders into one video with real cuts (the `ffmpeg` program, 25 fps, 640x360); `vap
score --window 1 --stride 0.5 --plot` draws its timeline, and the report beside it says where the truth's
cuts are and where the segments put them. A picture of what `--plot` draws on real footage, with its
ground truth; the accuracy of segments is measured in docs/bench/segments.md.

    .venv/bin/python scripts/bench/timeline_figure.py    # docs/images/score_timeline_samples.png, docs/bench/timeline_figure.md
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENES = {"animation": "bigbuckbunny.mp4", "street": "bikes.mp4", "in_car": "carphone_pristine.mp4"}
ORDERS = [["street", "animation", "in_car"], ["animation", "street", "in_car"], ["street", "in_car", "animation"]]
VF = "scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2,fps=25,format=yuv420p"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=300)


def encode(src: Path, dst: Path, *seek: str) -> None:
    """`src` from `seek` (ffmpeg's -ss/-t) at the figure's size and rate, H.264, no audio."""
    ffmpeg(*seek, "-i", str(src), "-an", "-vf", VF, "-c:v", "libx264", "-preset", "veryfast", str(dst))


def duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


def main() -> None:
    from bench_segments import vap

    from pipeline.data.records import read_journal
    from pipeline.env import provenance

    work = Path("/tmp/vap-timeline-figure")
    shutil.rmtree(work, ignore_errors=True)
    (work / "parts").mkdir(parents=True)
    for split in ("train", "val"):
        for scene in SCENES:
            (work / "scenes" / split / scene).mkdir(parents=True)
    parts, lists = {}, {"train": [], "val": []}
    for scene, name in SCENES.items():
        src = REPO / "datasets" / "samples" / name
        cut = 0.6 * duration(src)
        starts = [round(0.25 * i, 2) for i in range(int((cut - 1.0) / 0.25) + 1)]
        for i, s in enumerate(starts):  # every 4th clip to validation
            split = "val" if i % 4 == 3 else "train"
            encode(src, work / "scenes" / split / scene / f"{scene}_{i:03d}.mp4", "-ss", str(s), "-t", "1")
            lists[split].append(f"{split}/{scene}/{scene}_{i:03d}.mp4 {list(SCENES).index(scene)}\n")
        parts[scene] = work / "parts" / f"{scene}.mp4"
        encode(src, parts[scene], "-ss", str(round(cut, 2)))
    for split, lines in lists.items():
        (work / "scenes" / f"{split}.txt").write_text("".join(lines))
    (work / "scenes" / "classes.txt").write_text("".join(f"{c}\n" for c in SCENES))
    listing = work / "parts.txt"
    listing.write_text("".join(f"file '{parts[s]}'\n" for order in ORDERS for s in order))
    video = work / "samples cut together.mp4"
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c:v", "libx264", "-preset", "veryfast", str(video))
    truth, t = [], 0.0
    for order in ORDERS:
        for s in order:
            d = duration(parts[s])
            truth.append({"start": round(t, 2), "end": round(t + d, 2), "label": s})
            t += d
    vap(
        "train",
        "--config",
        str(REPO / "configs" / "moving_digits_lstm.yaml"),
        "--data.train",
        str(work / "scenes" / "train.txt"),
        "--data.val",
        str(work / "scenes" / "val.txt"),
        "--data.test",
        str(work / "scenes" / "val.txt"),
        "--data.make",
        "null",
        "--data.sampler_args",
        "{num_segments: 4}",
        "--data.batch_size",
        "8",
        "--trainer.max_epochs",
        "40",
        "--trainer.enable_progress_bar",
        "false",
        cwd=work,
    )
    (ckpt,) = work.glob("runs/csv/version_*/checkpoints/last.ckpt")
    out = work / "timeline.jsonl"
    vap(
        "score",
        "--checkpoint",
        str(ckpt),
        str(video),
        "--out",
        str(out),
        "--window",
        "1",
        "--stride",
        "0.5",
        "--topk",
        "3",
        "--plot",
        str(work / "plots"),
        cwd=work,
    )
    (png,) = (work / "plots").glob("*.png")
    image = REPO / "docs" / "images" / "score_timeline_samples.png"
    shutil.copy(png, image)
    (rec,) = read_journal(out)
    prov = provenance("bench/timeline_figure.py")
    rows = "\n".join(f"| {e['start']:.2f}-{e['end']:.2f} | {e['label']} |" for e in truth)
    segs = "\n".join(f"| {s['start']:.2f}-{s['end']:.2f} | {s['label']} | {s['score']:.2f} |" for s in rec["segments"])
    (
        REPO / "docs" / "bench" / "timeline_figure.md"
    ).write_text(f"""# `vap score --window 1 --stride 0.5 --plot` on the sample videos cut together

Command: `{prov["command"]}` ({prov["date"]}). Machine: {prov["machine"]}.

The default experiment's model (a tiny CNN + LSTM) trained with `vap train` (40 epochs) on 1-second clips of the first 60% of each sample
video (three classes: `animation`, `street`, `in_car`), scored on the last 40% of each, cut together
three times in different orders ({rec["duration"]:.1f} s, real cuts). Picture:
`docs/images/score_timeline_samples.png`. This shows what `--plot` draws on real footage, beside its
truth; it is not an accuracy claim (see segments.md for that).

| truth (s) | scene |
|---|---|
{rows}

| segment (s) | label | mean probability |
|---|---|---|
{segs}
""")
    print(json.dumps({"truth": truth, "segments": rec["segments"]}, indent=1))


if __name__ == "__main__":
    main()
