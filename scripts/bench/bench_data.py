"""The data-layer benchmark: decoding throughput per backend, raw vs through the dataset, memory, re-encode gain.

All figures are ratios or medians of interleaved repeats measured in one run, because wall-clock time
on a shared machine is noisy. Every backend decodes the same TSN-8 training indices, drawn exactly as
the dataset draws them, with a fresh reader per clip (as a data loader does).

    .venv/bin/python scripts/bench/bench_data.py --long-video   # docs/bench/data.md and data.json (minutes)
    .venv/bin/python scripts/bench/bench_data.py --videos DIR --out /tmp/data.md   # your own videos

By default it reads the sample videos of the repository (datasets/samples) and writes the report the README
quotes (docs/bench/data.md, a .json beside it). `--long-video` also makes, once, a 10-minute 720p test video
(kept in --cache) for the time-to-first-clip and memory table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "datasets" / "samples"
REPORT = REPO / "docs" / "bench" / "data.md"


def shown(path: Path) -> str:
    """A path as the report shows it: relative to the repository when inside it (no machine's folders)."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def _indices(sampler, n: int, seed: int, i: int) -> np.ndarray:
    return sampler(n, np.random.default_rng([seed, 0, i]), training=True)[0]


def raw_clips_per_second(backend: str, videos: list[Path], sampler, clips: int, seed: int = 0) -> float:
    """Open a fresh reader per clip and decode the clip's indices; clips per second."""
    from pipeline.data.backends import open_video

    t0 = time.perf_counter()
    for i in range(clips):
        with open_video(videos[i % len(videos)], backend) as r:
            r.get_frames(_indices(sampler, r.meta.num_frames, seed, i))
    return clips / (time.perf_counter() - t0)


def dataset_clips_per_second(backend: str, videos: list[Path], sampler, clips: int, seed: int = 0) -> float:
    """The same clips through VideoDataset + DataLoader (no transform, batch 1, main process)."""
    from torch.utils.data import DataLoader

    from pipeline.data.annotations import VideoRecord
    from pipeline.data.dataset import VideoDataset, collate_videos

    records = [VideoRecord(videos[i % len(videos)], 0, str(i)) for i in range(clips)]
    ds = VideoDataset(records, sampler=sampler, training=True, backend=backend, seed=seed)
    loader = DataLoader(ds, batch_size=1, num_workers=0, collate_fn=collate_videos)
    t0 = time.perf_counter()
    n = sum(len(b) for b in loader)
    if n != clips:
        raise RuntimeError(f"dataset decoded {n} of {clips} clips")
    return clips / (time.perf_counter() - t0)


def open_and_memory(backend: str, video: Path, frames: int = 8) -> dict[str, float]:
    """Time to first clip and peak memory of a fresh process that imports torch, PyAV (the package
    imports it for probing) and this backend, opens `video` and decodes a TSN-`frames` clip.

    `first_clip_s`: seconds from `open_video` to the decoded clip (opening reads the file's index);
    `open_s`: of which opening. `peak`: peak resident memory (MB); `baseline`: the same process with
    the same imports that does not open the video (what torch and the decoder library cost by themselves).

    The peak is the kernel's VmHWM: ru_maxrss would not do, as Linux carries it over from the parent
    process (this benchmark, already large) through fork and exec."""
    code = (
        "import importlib, sys, time, numpy as np\n"
        "from pipeline.data.backends import open_video\n"
        "from pipeline.data.backends.auto import _IMPORTS\n"
        "from pipeline.data.samplers import TSNSampler\n"
        "b, p, k, run = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == '1'\n"
        "[importlib.import_module(_IMPORTS[n]) for n in ([] if b == 'auto' else [b])]  # auto loads what it uses\n"
        "t, served = [0.0, 0.0], '-'\n"
        "if run:\n"
        "    t0 = time.perf_counter()\n"
        "    with open_video(p, b) as r:\n"
        "        t[0] = time.perf_counter() - t0\n"
        "        idx = TSNSampler(num_segments=k)(r.meta.num_frames, np.random.default_rng(0), training=True)\n"
        "        x = r.get_frames(idx[0])\n"
        "        t[1] = time.perf_counter() - t0\n"
        "        served = r.backend\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(int(hwm.split()[1]) / 1024, t[0], t[1], served)\n"
    )
    rows = []
    for run in ("0", "1"):
        out = subprocess.run([sys.executable, "-c", code, backend, str(video), str(frames), run],
                             capture_output=True, text=True, check=True, timeout=900)  # fmt: skip
        rows.append(out.stdout.strip().splitlines()[-1].split())
    return {"peak": float(rows[1][0]), "baseline": float(rows[0][0]), "open_s": float(rows[1][1]),
            "first_clip_s": float(rows[1][2]), "served_by": rows[1][3]}  # fmt: skip


def rotated_clips_per_second(
    names: list[str], videos: list[Path], sampler, clips: int, seed: int = 0
) -> dict[str, float]:
    """Clips/s of each of `names` on the same clips, clip by clip, the order of the backends rotating
    from one clip to the next: drift in machine speed and order effects hit every backend alike, so
    the ratios between backends (which is fastest, `auto` / fastest) are fair."""
    from pipeline.data.backends import open_video

    spent = dict.fromkeys(names, 0.0)
    for i in range(clips):
        video = videos[i % len(videos)]
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            t0 = time.perf_counter()
            with open_video(video, name) as r:
                r.get_frames(_indices(sampler, r.meta.num_frames, seed, i))
            spent[name] += time.perf_counter() - t0
    return {name: clips / t for name, t in spent.items()}


def make_long_video(path: Path, seconds: int = 600, size: str = "1280x720") -> Path:
    """A synthetic 720p test-pattern video of `seconds` (ffmpeg's testsrc2), made once and cached."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "250", "-pix_fmt", "yuv420p", str(tmp)],
        check=True, timeout=3600,
    )  # fmt: skip
    tmp.rename(path)
    return path


def run_bench(args: argparse.Namespace) -> dict:
    from rich.console import Console

    from pipeline.data.backends import available_backends, open_video
    from pipeline.data.reencode import reencode
    from pipeline.data.samplers import TSNSampler

    console = Console(stderr=True)
    videos = sorted(Path(args.videos).glob("*.mp4")) if Path(args.videos).is_dir() else [Path(args.videos)]
    if not videos:
        raise FileNotFoundError(f"{args.videos}: no .mp4 videos to benchmark")
    sampler = TSNSampler(num_segments=8)
    backends = available_backends()
    served = {}
    for v in videos:
        with open_video(v, "auto") as r:
            served[v.name] = r.backend
    results: dict = {"videos": [shown(v) for v in videos], "clips_per_repeat": args.clips, "repeats": args.repeats,
                     "auto_served": served}  # fmt: skip
    contenders = [*backends, "auto"]
    rotated: dict[str, list[float]] = {b: [] for b in contenders}
    raw: dict[str, list[float]] = {b: [] for b in backends}
    ds: dict[str, list[float]] = {b: [] for b in backends}
    for b in contenders:  # warm-up: one-time library loading is not decoding speed
        raw_clips_per_second(b, videos, sampler, len(videos))
    for rep in range(args.repeats):
        console.print(f"repeat {rep + 1}/{args.repeats}")
        # which backend is fastest, and auto against it: all of them clip by clip, in rotated order
        for b, v in rotated_clips_per_second(contenders, videos, sampler, args.clips, seed=rep).items():
            rotated[b].append(v)
        # raw vs dataset: the same clips back to back, the order alternating between repeats
        for b in backends:
            runs = {"raw": raw_clips_per_second, "dataset": dataset_clips_per_second}
            for kind in ["raw", "dataset"] if rep % 2 == 0 else ["dataset", "raw"]:
                (raw if kind == "raw" else ds)[b].append(runs[kind](b, videos, sampler, args.clips, seed=rep))
    med = {b: statistics.median(v) for b, v in rotated.items()}
    fastest = max(backends, key=med.__getitem__)
    results["rotated_clips_per_s"] = med
    results["raw_clips_per_s"] = {b: statistics.median(v) for b, v in raw.items()}
    results["dataset_clips_per_s"] = {b: statistics.median(v) for b, v in ds.items()}
    results["dataset_over_raw"] = {
        b: statistics.median(d / r for d, r in zip(ds[b], raw[b], strict=True)) for b in backends
    }
    results["fastest"] = fastest
    results["auto_over_fastest_per_repeat"] = [a / f for a, f in zip(rotated["auto"], rotated[fastest], strict=True)]
    results["auto_over_fastest"] = statistics.median(results["auto_over_fastest_per_repeat"])
    results["data_ms_per_clip"] = {b: 1000 / v for b, v in results["dataset_clips_per_s"].items()}

    # Re-encoding gain on a long-GOP sample: the original vs short side 256, GOP 16.
    long_gop = Path(args.long_gop)
    if long_gop.exists():
        short = reencode(long_gop, Path(args.cache) / f"{long_gop.stem}_s256_g16.mp4", short_side=256, gop=16)
        gains = []
        for rep in range(args.repeats):
            before = raw_clips_per_second(fastest, [long_gop], sampler, args.clips, seed=rep)
            after = raw_clips_per_second(fastest, [short], sampler, args.clips, seed=rep)
            gains.append(after / before)
        results["reencode"] = {"video": shown(long_gop), "backend": fastest, "speedup_median": statistics.median(gains),
                               "speedups": gains}  # fmt: skip

    if args.long_video:
        long_video = make_long_video(Path(args.cache) / "testsrc2_720p_600s.mp4")
        results["long_video_8_frames_10min_720p"] = {b: open_and_memory(b, long_video) for b in [*backends, "auto"]}
    return results


def write_report(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Data-layer benchmark (`scripts/bench/bench_data.py`)",
        "",
        f"Videos: {', '.join(Path(v).name for v in results['videos'])}; TSN-8 training indices,",
        "a fresh reader per clip;",
        f"{results['clips_per_repeat']} clips per repeat, median of {results['repeats']} interleaved repeats.",
        "",
        "| backend | clips/s (rotated) | raw clips/s | dataset clips/s | dataset / raw | data ms per clip |",
        "|---|---|---|---|---|---|",
    ]
    for b, v in results["rotated_clips_per_s"].items():
        if b == "auto":
            chose = ", ".join(sorted(set(results["auto_served"].values())))
            lines.append(f"| auto (served by {chose}) | {v:.1f} | | | | |")
            continue
        lines.append(
            f"| {b} | {v:.1f} | {results['raw_clips_per_s'][b]:.1f} | {results['dataset_clips_per_s'][b]:.1f} "
            f"| {results['dataset_over_raw'][b]:.2f} | {results['data_ms_per_clip'][b]:.0f} |"
        )
    lines += [
        "",
        "Which backend is fastest, and `auto` against it, come from the rotated run: every backend decodes the "
        "same clip back to back, the order rotating from clip to clip. Raw and dataset runs of a backend decode "
        "the same clips one after the other, the order alternating between repeats.",
        "",
        f"Fastest: **{results['fastest']}**; `auto` / fastest = **{results['auto_over_fastest']:.2f}** "
        f"(median over {len(results['auto_over_fastest_per_repeat'])} repeats).",
    ]
    if "reencode" in results:
        r = results["reencode"]
        lines += ["", f"Re-encoding {Path(r['video']).name} to short side 256, GOP 16: TSN-8 clips/s x"
                      f"**{r['speedup_median']:.2f}** ({r['backend']})."]  # fmt: skip
    if "long_video_8_frames_10min_720p" in results:
        lines += [
            "",
            "A 10-minute 720p video (15,000 frames), a fresh process per backend that imports torch, PyAV and "
            "the backend, opens the video and decodes one TSN-8 clip:",
            "",
            "| backend | open (s) | time to first clip (s) | peak memory (MB) | of which decoding (MB) |",
            "|---|---|---|---|---|",
        ]
        for b, v in results["long_video_8_frames_10min_720p"].items():
            name = f"auto (served by {v['served_by']})" if b == "auto" else b
            lines.append(f"| {name} | {v['open_s']:.2f} | {v['first_clip_s']:.2f} | {v['peak']:.0f} "
                         f"| +{v['peak'] - v['baseline']:.0f} |")  # fmt: skip
        lines += [
            "",
            "Decoding's share is the peak above the same process with the same imports that does not open the "
            "video; the rest is torch and the decoder libraries.",
        ]
    out.write_text("\n".join(lines) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Measure TSN-8 clips/s for each installed backend and for `auto`, raw and through the "
        "dataset + DataLoader, on the sample videos; the speed-up from re-encoding a long-GOP video; and "
        "(with --long-video) peak memory to sample 8 frames from a 10-minute 720p video. Writes a JSON and a "
        "Markdown table.",
    )
    p.add_argument("--videos", default=str(SAMPLES), help="a video or a folder of .mp4 (default: datasets/samples)")
    p.add_argument("--clips", type=int, default=40, help="clips per repeat (default: %(default)s)")
    p.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="interleaved repeats; medians are reported (default: %(default)s)",
    )
    p.add_argument(
        "--long-gop", default=str(SAMPLES / "bigbuckbunny.mp4"), help="long-GOP video for the re-encode gain"
    )
    p.add_argument(
        "--long-video",
        action="store_true",
        help="also measure time to first clip and peak memory on a 10-minute 720p video (made once with ffmpeg)",
    )
    p.add_argument(
        "--cache",
        default=str(Path.home() / ".cache" / "vap" / "bench"),
        help="where generated videos are kept",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=REPORT,
        help="Markdown report, a .json is written beside it (default: docs/bench/data.md)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run_bench(args)
    write_report(results, args.out)
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
