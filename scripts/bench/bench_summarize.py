"""How long does `vap summarize` take on a 1-minute 720p video? Per-stage times, as a user runs it.

The video is real footage: the sample videos (datasets/samples: a street scene, an animated film, a man
talking in a car) scaled to 1280x720 at 30 fps, cut one after another and looped to 60 s, encoded by x264
at its defaults (a keyframe at each cut, at most every 250 frames), made once by `make_footage`. Each
method runs `--repeats` times in fresh processes, interleaved, as a user runs the command (imports and
model loading in the wall time); the stage times come from the summary.json each run writes, and the
report gives medians. Target: the default under 12 s.

    .venv/bin/python scripts/bench/bench_summarize.py                 # docs/bench/summarize.md + .json
    .venv/bin/python scripts/bench/bench_summarize.py --seconds 4 --size 320x240 --repeats 1 --methods coverage \
        --out /tmp   # smoke run
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.env import provenance

TARGET_S = 12.0
SAMPLES = Path(__file__).resolve().parents[2] / "datasets" / "samples"
SOURCES = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")


def make_footage(path: Path, seconds: int = 60, size: str = "1280x720") -> Path:
    """The sample videos scaled to `size` at 30 fps, one after another, looped to `seconds` (made once)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size.split("x")
    inputs = [a for name in SOURCES for a in ("-stream_loop", "-1", "-i", str(SAMPLES / name))]
    third = seconds / len(SOURCES)
    chains = [f"[{i}]trim=duration={third:.3f},setpts=PTS-STARTPTS,scale={w}:{h},setsar=1,fps=30[s{i}]"
              for i in range(len(SOURCES))]  # fmt: skip
    graph = ";".join(chains) + ";" + "".join(f"[s{i}]" for i in range(len(SOURCES))) + "concat=n=3:v=1[v]"
    tmp = path.with_suffix(".part.mp4")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(tmp)], check=True, timeout=3600)  # fmt: skip
    tmp.rename(path)
    return path


def one_run(video: Path, out: Path, method: str, threads: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipeline.cli", "summarize", str(video), "--out", str(out), "--threads", str(threads)]
    if method != "default":
        cmd += ["--method", method]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"vap summarize failed: {done.stderr.strip().splitlines()[-1:]}")
    summary = json.loads((out / video.stem / "summary.json").read_text())
    return {"wall_s": wall, "summary": summary}


def run(seconds: int, size: str, work: Path, threads: int, methods: list[str], repeats: int) -> dict:
    video = make_footage(work / f"footage_{size}_{seconds}s.mp4", seconds=seconds, size=size)
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    for _ in range(repeats):  # interleaved: each method sees the same machine load
        for m in methods:
            runs[m].append(one_run(video, work / "out", m, threads))
    peak_rss_mb = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)  # before the probe runs
    probe = (  # what the time outside the stages is made of, in a fresh process of its own
        "import time, json; t = time.perf_counter(); import pipeline.inference.summarize.video, "
        "pipeline.inference.summarize.outputs; i = time.perf_counter() - t; "
        "from pipeline.data.backends import open_video; t = time.perf_counter(); "
        f"r = open_video({str(video)!r}); r.close(); "
        "print(json.dumps({'imports': round(i, 2), 'first open_video (auto)': round(time.perf_counter() - t, 2)}))"
    )
    overhead = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                         timeout=600).stdout)  # fmt: skip
    per_method = {}
    for m, rs in runs.items():
        last = rs[-1]["summary"]
        stages = {k: round(statistics.median(r["summary"]["seconds"].get(k, 0.0) for r in rs), 3)
                  for k in last["seconds"]}  # fmt: skip
        wall = round(statistics.median(r["wall_s"] for r in rs), 2)
        per_method[m] = {
            "method": last["method"],
            "stages_s": stages,
            "wall_s": wall,
            "walls_s": [round(r["wall_s"], 2) for r in rs],
            "shots": len(last["shots"]),
            "selected": len(last["selected"]),
            "summary_seconds": round(sum(b - a + 1 for a, b in last["clips"]) / last["fps"], 2),
            "summary_video": last["settings"].get("summary_video"),
            "meets_target": wall <= TARGET_S,
        }
    last = runs[methods[0]][-1]["summary"]
    return {
        "video": {"seconds": seconds, "size": size, "frames": last["num_frames"], "fps": last["fps"]},
        "sampled_frames": len(last["indices"]),
        "methods": per_method,
        "repeats": repeats,
        "overhead_s": overhead,
        "peak_rss_mb": peak_rss_mb,
        "target_s": TARGET_S,
    }


def write_report(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    v = report["video"]
    methods = report["methods"]
    names = list(methods)
    stages = list(dict.fromkeys(k for m in methods.values() for k in m["stages_s"]))
    head = " | ".join(f"{n} ({methods[n]['method']})" for n in names)
    lines = [
        "# `vap summarize`: time per stage",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']}  ",
        f"Date: {report['date']}",
        "",
        f"Video: real footage (the sample videos scaled to {v['size']} at 30 fps, cut one after another), "
        f"{v['seconds']} s, {v['frames']} frames at {v['fps']:g} fps, x264 defaults; {report['sampled_frames']} "
        f"frames scored (2 fps), MobileNetV2 features, torch threads {report['threads']}. Medians of "
        f"{report['repeats']} runs per method, interleaved, each a fresh process as a user runs it.",
        "",
        f"| stage | {head} |",
        "|---|" + "---|" * len(names),
        *[f"| {k} | " + " | ".join(str(methods[n]["stages_s"].get(k, "-")) for n in names) + " |" for k in stages],
        "| outside the stages (process start, imports, opening the video, the table) | "
        + " | ".join(f"{methods[n]['wall_s'] - sum(methods[n]['stages_s'].values()):.2f}" for n in names)
        + " |",
        "| **whole command, wall** | " + " | ".join(f"**{methods[n]['wall_s']}**" for n in names) + " |",
        "| every run's wall | " + " | ".join(", ".join(map(str, methods[n]["walls_s"])) for n in names) + " |",
        "| shots, kept, summary length (s) | "
        + " | ".join(f"{methods[n]['shots']}, {methods[n]['selected']}, {methods[n]['summary_seconds']}" for n in names)
        + " |",
        "| summary.mp4 | " + " | ".join(str(methods[n]["summary_video"]) for n in names) + " |",
        "",
        "Outside the stages, measured in a separate fresh process: "
        + ", ".join(f"{k} {v} s" for k, v in report["overhead_s"].items())
        + ". summary.mp4 is `copied` (packets of the source, no decode) where every kept shot starts and ends "
        "on a keyframe, else `re-encoded`.",
        "",
        *[f"Target {TARGET_S:g} s, {n}: {'met' if methods[n]['meets_target'] else 'MISSED'}." for n in names],
        f"Peak resident memory of a command: {report['peak_rss_mb']} MB.",
        "",
    ]
    (out / "summarize.md").write_text("\n".join(lines))
    (out / "summarize.json").write_text(json.dumps(report, indent=2) + "\n")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--size", default="1280x720")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--methods", default="default,rl", help="comma-separated: default or a --method name")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vap_bench_summarize")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "docs" / "bench")
    args = p.parse_args(argv)
    report = run(args.seconds, args.size, args.work, args.threads, args.methods.split(","), args.repeats)
    report.update(threads=args.threads, **provenance("bench/bench_summarize.py", argv))
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
