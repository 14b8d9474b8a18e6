"""How long does `vap summarize` take on a 1-minute 720p video? Per-stage times, as a user runs it.

The video is ffmpeg's testsrc2 pattern (1280x720, 25 fps, H.264, one keyframe every 10 s), made once
by `bench_data.make_long_video`; content that moves but has no real shots, so the figures
measure cost, not summary quality. The command runs in a fresh process (model loading and imports
included in the wall time); the stage times come from the summary.json it writes. Target: under 60 s.

    .venv/bin/python scripts/bench/bench_summarize.py                 # docs/bench/summarize.md + .json
    .venv/bin/python scripts/bench/bench_summarize.py --seconds 4 --size 320x240 --out /tmp   # smoke run
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_data import make_long_video

from pipeline.env import provenance

TARGET_S = 60.0


def run(seconds: int, size: str, work: Path, threads: int) -> dict:
    video = make_long_video(work / f"testsrc2_{size}_{seconds}s.mp4", seconds=seconds, size=size)
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipeline.cli", "summarize", str(video), "--out", str(out), "--threads", str(threads)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"vap summarize failed: {done.stderr.strip().splitlines()[-1:]}")
    peak_rss_mb = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)  # before the probe runs
    summary = json.loads((out / video.stem / "summary.json").read_text())
    probe = (  # what the time outside the stages is made of, in a fresh process of its own
        "import time, json; t = time.perf_counter(); import pipeline.inference.summarize.video, "
        "pipeline.inference.summarize.outputs; i = time.perf_counter() - t; "
        "from pipeline.data.backends import open_video; t = time.perf_counter(); "
        f"r = open_video({str(video)!r}); r.close(); "
        "print(json.dumps({'imports': round(i, 2), 'first open_video (auto)': round(time.perf_counter() - t, 2)}))"
    )
    overhead = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                         timeout=600).stdout)  # fmt: skip
    return {
        "video": {"seconds": seconds, "size": size, "frames": summary["num_frames"], "fps": summary["fps"]},
        "sampled_frames": len(summary["indices"]),
        "shots": len(summary["shots"]),
        "selected": len(summary["selected"]),
        "stages_s": summary["seconds"],
        "wall_s": round(wall, 2),
        "overhead_s": overhead,
        "peak_rss_mb": peak_rss_mb,
        "target_s": TARGET_S,
        "meets_target": wall < TARGET_S,
    }


def write_report(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    v = report["video"]
    lines = [
        "# `vap summarize`: time per stage",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']}  ",
        f"Date: {report['date']}",
        "",
        f"Video: ffmpeg testsrc2, {v['seconds']} s, {v['size']}, {v['frames']} frames at {v['fps']:g} fps; "
        f"{report['sampled_frames']} frames scored (2 fps), {report['shots']} shots, {report['selected']} kept. "
        f"Method rl (DR-DSN, 60 epochs), MobileNetV2 features, torch threads {report['threads']}.",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {name} | {secs} |" for name, secs in report["stages_s"].items()],
        f"| outside the stages (process start, imports, opening the video, the table) | "
        f"{report['wall_s'] - sum(report['stages_s'].values()):.2f} |",
        f"| **whole command, wall (fresh process: imports, model load, all files)** | **{report['wall_s']}** |",
        "",
        "Outside the stages, measured in a separate fresh process: "
        + ", ".join(f"{k} {v} s" for k, v in report["overhead_s"].items())
        + " (`auto` opens each video with the first backend that is exact for it: PyAV, with no measuring).",
        "",
        f"Target under {TARGET_S:g} s: {'met' if report['meets_target'] else 'MISSED'}. "
        f"Peak resident memory of the command: {report['peak_rss_mb']} MB.",
        "",
        "One run; rerun for your machine.",
        "",
    ]
    (out / "summarize.md").write_text("\n".join(lines))
    (out / "summarize.json").write_text(json.dumps(report, indent=2) + "\n")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--size", default="1280x720")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vap_bench_summarize")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "docs" / "bench")
    args = p.parse_args(argv)
    report = run(args.seconds, args.size, args.work, args.threads)
    report.update(
        threads=args.threads,
        **provenance("bench/bench_summarize.py", argv),
    )
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
