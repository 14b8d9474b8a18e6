"""How fast is `vap score --window` on a long 720p video, and does its memory stay flat on a 2-hour one?

    .venv/bin/python scripts/bench/bench_windows.py           # writes docs/bench/windows.md and windows.json
    .venv/bin/python scripts/bench/bench_windows.py --quick   # 1-minute videos, seconds

Inputs, made once under --work with the `ffmpeg` program from the real sample videos in datasets/samples
(concatenated, scaled, looped; x264 at its default keyframe interval of 250 frames):
- `long_720p.mp4`: 10 minutes of 1280x720 at 25 fps;
- `low_1min.mp4` and `low_2h.mp4`: 1 minute and 2 hours of 160x90 at 25 fps (small files, same content).

Rates, in the same run, repeats interleaved, medians:
- decode alone: one PyAV reader in one process asked for the frames each window samples, window after
  window (what `vap score --window` decodes, nothing else: no colour-space resize, no model);
- `vap score --window 2 --stride 1` end to end, a subprocess with `--workers 1` (one decoding process,
  the model in the main one: the 2 cores), start-up included, and without it (the run's own windows/s,
  from the first window journaled to the record).
Real-time factor: seconds of video scored per second. Peak memory, in runs that are not timed: the sum
over `vap score` and its decoding worker, sampled every 0.1 s (psutil), as proportional set sizes (PSS:
pages the two processes share, such as torch's libraries, counted once; RSS, which counts them in each,
beside), for the 10-minute 720p video and the 1-minute and 2-hour low-resolution ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class BenchConfig:
    long_minutes: float = 10.0
    long_hours_low: float = 2.0
    window: float = 2.0
    stride: float = 1.0
    repeats: int = 3


def make_inputs(work: Path, cfg: BenchConfig) -> dict[str, Path]:
    """The three videos (made once; kept between runs)."""
    samples = sorted((REPO / "datasets" / "samples").glob("*.mp4"))
    listing = work / "samples.txt"
    listing.write_text("".join(f"file '{s}'\n" for s in samples))
    base = work / "base_720p.mp4"  # the samples at one size and rate, once
    if not base.exists():
        filt = (
            "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,fps=25,format=yuv420p"
        )
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-an",
                "-vf",
                filt,
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                str(base),
            ],
            check=True,
        )
    out = {}
    for name, seconds, size in (
        ("long_720p", cfg.long_minutes * 60, None),
        ("low_1min", 60, "160:90"),
        ("low_2h", cfg.long_hours_low * 3600, "160:90"),
    ):
        path = work / f"{name}_{int(seconds)}s.mp4"
        if not path.exists():
            vf = ["-vf", f"scale={size}"] if size else []
            subprocess.run(
                [
                    "ffmpeg",
                    "-v",
                    "error",
                    "-y",
                    "-stream_loop",
                    "-1",
                    "-i",
                    str(base),
                    "-t",
                    str(seconds),
                    "-an",
                    *vf,
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast" if size else "veryfast",
                    str(path),
                ],
                check=True,
            )
        out[name] = path
    return out


def decode_alone(video: Path, ckpt: Path, cfg: BenchConfig) -> tuple[float, int]:
    """Seconds to decode the frames every window samples, with one reader; and the number of windows."""
    from pipeline.data.backends import open_video
    from pipeline.data.clips import eval_pipeline
    from pipeline.data.windows import Windows
    from pipeline.models.checkpoint import load_any

    _, meta = load_any(ckpt)
    sampler, _ = eval_pipeline(meta.preprocessing)
    t0 = time.perf_counter()
    with open_video(video, "auto") as reader:
        spans = Windows(cfg.window, cfg.stride).spans(reader.meta.num_frames, reader.meta.fps)
        for a, b in spans:
            reader.get_frames((sampler(b - a, training=False, fps=reader.meta.fps) + a).reshape(-1))
    return time.perf_counter() - t0, len(spans)


def peak_tree_memory(proc: subprocess.Popen, box: dict[str, float]) -> None:
    """Max over time of the summed proportional set size (PSS: shared pages, such as torch's libraries
    mapped by both processes, counted once) of `proc` and its children (MB), into box["peak"]; and the
    same for the resident sets (RSS, shared pages counted in each process), into box["peak_rss"]."""
    import psutil

    try:
        p = psutil.Process(proc.pid)
        while proc.poll() is None:
            pss = rss = 0
            for q in [p, *p.children(recursive=True)]:
                try:
                    full = q.memory_full_info()
                    pss, rss = pss + full.pss, rss + full.rss
                except psutil.Error:
                    pass
            box["peak"] = max(box.get("peak", 0.0), pss / 2**20)
            box["peak_rss"] = max(box.get("peak_rss", 0.0), rss / 2**20)
            time.sleep(0.1)
    except psutil.Error:
        return


def vap_score(video: Path, ckpt: Path, out: Path, cfg: BenchConfig, memory: bool = False) -> dict[str, Any]:
    """`vap score --window` on one video: wall time, the run's own time (first window to the record), and with
    `memory` peak PSS and RSS. Timed runs do not watch memory: reading the processes' smaps costs about 35 ms
    of CPU per process per sample, a third of a core at 10 samples/s, on a machine of 2."""
    for f in out.parent.glob(out.name + "*"):
        f.unlink()
    for f in out.parent.glob(out.stem + ".windows.jsonl*"):
        f.unlink()
    cmd = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "score",
        "--checkpoint",
        str(ckpt),
        str(video),
        "--out",
        str(out),
        "--window",
        str(cfg.window),
        "--stride",
        str(cfg.stride),
        "--workers",
        "1",
        "--timeout",
        "600",
    ]
    box: dict[str, float] = {}
    windows = out.with_name(out.stem + ".windows.jsonl")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watcher = threading.Thread(target=peak_tree_memory, args=(proc, box), daemon=True)
    if memory:
        watcher.start()
    first = None
    while proc.poll() is None:
        if first is None and windows.exists() and windows.stat().st_size > 0:
            first = time.perf_counter()
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.read().decode()[-2000:])
    if memory:
        watcher.join(2)
    record = json.loads(out.read_text().splitlines()[0])
    return {
        "wall": wall,
        "run": wall - ((first or t0) - t0),
        "peak_mb": box.get("peak"),  # None: not watched
        "peak_rss_mb": box.get("peak_rss"),
        "windows": len(record["windows"]),
        "duration": record["duration"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench")
    p.add_argument("--work", type=Path, default=Path("/tmp/vap-bench-windows"))
    p.add_argument("--quick", action="store_true", help="1-minute and 3-minute videos, one repeat")
    args = p.parse_args()
    from bench_score import make_collection

    from pipeline.env import provenance

    cfg = BenchConfig(long_minutes=1.0, long_hours_low=0.05, repeats=1) if args.quick else BenchConfig()
    args.work.mkdir(parents=True, exist_ok=True)
    videos = make_inputs(args.work, cfg)
    ckpt, _ = make_collection(args.work / "model", 0)
    long_video = videos["long_720p"]
    decode, score = [], []
    for _ in range(cfg.repeats):  # interleaved
        seconds, n_windows = decode_alone(long_video, ckpt, cfg)
        decode.append(seconds)
        score.append(vap_score(long_video, ckpt, args.work / "long.jsonl", cfg))
    duration = score[0]["duration"]
    t_decode = statistics.median(decode)
    t_wall = statistics.median(s["wall"] for s in score)
    t_run = statistics.median(s["run"] for s in score)
    memory, memory_rss = {}, {}
    for name in ("long_720p", "low_1min", "low_2h"):  # runs of their own, watched
        run = vap_score(videos[name], ckpt, args.work / f"{name}.jsonl", cfg, memory=True)
        memory[name], memory_rss[name] = run["peak_mb"], run["peak_rss_mb"]
    result = {
        "video_seconds": duration,
        "windows": n_windows,
        "decode_alone_s": round(t_decode, 2),
        "vap_score_wall_s": round(t_wall, 2),
        "vap_score_run_s": round(t_run, 2),
        "ratio_end_to_end": round(t_decode / t_wall, 3),
        "ratio_without_startup": round(t_decode / t_run, 3),
        "real_time_factor_decode": round(duration / t_decode, 1),
        "real_time_factor_vap_score": round(duration / t_wall, 1),
        "peak_pss_mb": {k: round(v, 1) for k, v in memory.items()},
        "peak_rss_mb": {k: round(v, 1) for k, v in memory_rss.items()},
        "peak_pss_2h_minus_1min_mb": round(memory["low_2h"] - memory["low_1min"], 1),
        "peak_rss_2h_minus_1min_mb": round(memory_rss["low_2h"] - memory_rss["low_1min"], 1),
        "repeats": {"decode_alone_s": [round(x, 2) for x in decode], "vap_score": score},
    }
    prov = provenance("bench/bench_windows.py")
    name = "windows_quick" if args.quick else "windows"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(
        json.dumps({"config": asdict(cfg), "result": result, "provenance": prov}, indent=1) + "\n"
    )
    r = result
    (args.out / f"{name}.md").write_text(f"""# `vap score --window` on long videos: speed and memory

Command: `{prov["command"]}` ({prov["date"]}). Machine: {prov["machine"]}.

A {r["video_seconds"]:g}-second 1280x720 25 fps H.264 video (the real sample videos in datasets/samples,
concatenated and looped; x264's default keyframe interval), `--window {cfg.window:g} --stride {cfg.stride:g}`
({r["windows"]} windows, each sampled as the checkpoint's test clips: TSN, 8 frames), a tiny LSTM checkpoint
(the one `bench_score.py` trains), `--workers 1` (one decoding process, the model in the main one).
Medians of {cfg.repeats} interleaved repeats.

| | seconds | real-time factor (video s per s) | rate vs decoding alone |
|---|---|---|---|
| decoding the windows' frames alone (one PyAV reader, one process) | {r["decode_alone_s"]:.1f} | {r["real_time_factor_decode"]:.1f} | 1.00 |
| `vap score --window`, end to end (start-up included) | {r["vap_score_wall_s"]:.1f} | {r["real_time_factor_vap_score"]:.1f} | {r["ratio_end_to_end"]:.2f} |
| `vap score --window`, from its first window to its record | {r["vap_score_run_s"]:.1f} | | {r["ratio_without_startup"]:.2f} |

Target (issue): at least 0.85 of the rate of decoding the same frames alone.

Peak memory of `vap score` and its decoding worker together, sampled every 0.1 s in runs of their own (the
timed runs are not watched): PSS (what the two use, shared pages counted once) and RSS (shared pages, such as torch's libraries, counted in each process):

| video | peak PSS (MB) | peak RSS (MB) |
|---|---|---|
| 10 minutes, 1280x720 | {memory["long_720p"]:.0f} | {memory_rss["long_720p"]:.0f} |
| 1 minute, 160x90 | {memory["low_1min"]:.0f} | {memory_rss["low_1min"]:.0f} |
| 2 hours, 160x90 | {memory["low_2h"]:.0f} | {memory_rss["low_2h"]:.0f} |

The 2-hour video peaks {r["peak_pss_2h_minus_1min_mb"]:+.0f} MB (PSS; RSS {r["peak_rss_2h_minus_1min_mb"]:+.0f} MB) from the
1-minute one (target: within 100 MB).
""")
    print(json.dumps({k: v for k, v in result.items() if k != "repeats"}, indent=1))


if __name__ == "__main__":
    main()
