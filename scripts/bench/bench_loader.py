"""The loader at the decode limit: our backends and `auto` against the libraries they wrap, called directly,
and against PyTorchVideo's `EncodedVideo`, per container, in one run.

Per container, the sample videos of the repository (datasets/samples) as shipped and re-encoded by the
`ffmpeg` program into mp4 H.264 with and without B-frames, Matroska (the same H.264 stream) and WebM VP9,
at x264's default keyframe interval. Every way decodes the same TSN-8 training clips (drawn as the dataset
draws them), with one decoding thread each, the ways taking turns clip by clip (drift in machine speed
hits all alike):
- fresh: a new reader per clip, as a training loader opens a video per item;
- reused: one reader per video for all its clips (multi-view testing, `vap score`, summaries);
- open: milliseconds from the path to a reader ready to decode;
- peak memory: a process of its own per way, which imports the library and decodes every clip (VmHWM).

The libraries called directly, as their documentation shows:
- TorchCodec `VideoDecoder(path, seek_mode=...)` and `get_frames_at(indices)`, approximate and exact;
- decord `VideoReader(path, num_threads=1)` and `get_batch(indices)` (MMAction2's `DecordDecode`);
- PyAV: `container.decode(video=0)` front to back, keeping the wanted frames (exact anywhere; no seek).
PyTorchVideo: `EncodedVideo.from_path(path, decoder="pyav")` and `get_clip(i / fps, (i + 1) / fps)` per frame
(its clip API is by time); a window that comes back empty is counted.

    .venv/bin/python scripts/bench/bench_loader.py                 # docs/bench/loader.md and loader.json
    .venv/bin/python scripts/bench/bench_loader.py --quick --out /tmp/loader   # one repeat, 2 clips a video
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.env import provenance

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "datasets" / "samples"
X264 = ("-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p")
# container -> (file name ending, ffmpeg options); None: the samples as they are
CONTAINERS: dict[str, tuple[str, tuple[str, ...]] | None] = {
    "mp4 as shipped": None,
    "mp4 H.264, B-frames": ("_bf.mp4", (*X264, "-bf", "3")),
    "mp4 H.264, no B-frames": ("_nobf.mp4", (*X264, "-bf", "0")),
    "mkv H.264, B-frames": ("_bf.mkv", (*X264, "-bf", "3")),
    "WebM VP9": ("_vp9.webm", ("-c:v", "libvpx-vp9", "-b:v", "1M", "-g", "250", "-deadline", "good", "-cpu-used", "4")),
}
DIRECT = ("torchcodec approximate", "torchcodec exact", "decord", "pyav")
OURS = ("our pyav", "our torchcodec", "our decord", "our auto")
PEER = ("pytorchvideo",)


def make_set(name: str, cache: Path) -> list[Path]:
    """The sample videos in the container `name` (made once with ffmpeg, kept in `cache`)."""
    samples = sorted(SAMPLES.glob("*.mp4"))
    spec = CONTAINERS[name]
    if spec is None:
        return samples
    suffix, args = spec
    out = []
    for src in samples:
        dst = cache / f"{src.stem}{suffix}"
        if not dst.exists():
            cache.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".part.{dst.name}")
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *args, "-an", str(tmp)],
                           check=True, timeout=1800)  # fmt: skip
            tmp.rename(dst)
        out.append(dst)
    return out


# --- each way: open(path) -> handle, clip(handle, indices) -> frames ----------------------------------------
def _pyav_open(path: Path) -> Any:
    import av

    container = av.open(str(path))
    container.streams.video[0].codec_context.thread_count = 1
    return container


def _pyav_clip(container: Any, indices: np.ndarray) -> np.ndarray:
    wanted, out = set(indices.tolist()), {}
    container.seek(0)
    for i, frame in enumerate(container.decode(video=0)):
        if i in wanted:
            out[i] = frame.to_ndarray(format="rgb24")
        if i >= indices.max():
            break
    return np.stack([out[i] for i in indices.tolist()])


def _ptv_clip(video: Any, indices: np.ndarray, fps: float, empty: list[int]) -> list:
    frames = []
    for i in indices.tolist():
        clip = video.get_clip(i / fps, (i + 1) / fps)["video"]
        if clip is None or clip.shape[1] == 0:
            empty[0] += 1
        frames.append(clip)
    return frames


def ways(fps: dict[Path, float], empty: list[int]) -> dict[str, tuple[Callable, Callable, Callable]]:
    """Per way: open(path), clip(handle, path, indices), close(handle)."""
    import decord
    from pytorchvideo.data.encoded_video import EncodedVideo
    from torchcodec.decoders import VideoDecoder

    from pipeline.data.backends import open_video

    def ours(name: str) -> tuple[Callable, Callable, Callable]:
        return (lambda p: open_video(p, name), lambda h, p, i: h.get_frames(i), lambda h: h.close())

    nothing = lambda h: None  # noqa: E731
    return {
        "torchcodec approximate": (lambda p: VideoDecoder(str(p), seek_mode="approximate", num_ffmpeg_threads=1),
                                   lambda h, p, i: h.get_frames_at(indices=i.tolist()).data, nothing),
        "torchcodec exact": (lambda p: VideoDecoder(str(p), seek_mode="exact", num_ffmpeg_threads=1),
                             lambda h, p, i: h.get_frames_at(indices=i.tolist()).data, nothing),
        "decord": (lambda p: decord.VideoReader(str(p), ctx=decord.cpu(0), num_threads=1),
                   lambda h, p, i: h.get_batch(i.tolist()).asnumpy(), nothing),
        "pyav": (_pyav_open, lambda h, p, i: _pyav_clip(h, i), lambda h: h.close()),
        "our pyav": ours("pyav"),
        "our torchcodec": ours("torchcodec"),
        "our decord": ours("decord"),
        "our auto": ours("auto"),
        "pytorchvideo": (lambda p: EncodedVideo.from_path(str(p), decode_audio=False, decoder="pyav"),
                         lambda h, p, i: _ptv_clip(h, i, fps[p], empty), lambda h: h.close()),
    }  # fmt: skip


def clip_indices(videos: list[Path], clips: int, seed: int) -> dict[Path, list[np.ndarray]]:
    from pipeline.data.backends import open_video
    from pipeline.data.samplers import TSNSampler

    sampler = TSNSampler(num_segments=8)
    out = {}
    for k, v in enumerate(videos):
        with open_video(v, "pyav") as r:
            n = r.meta.num_frames
        out[v] = [sampler(n, np.random.default_rng([seed, k, i]), training=True)[0] for i in range(clips)]
    return out


def _attempt(clip: Callable, h: Any, v: Path, indices: np.ndarray, failed: dict[str, list[str]], name: str) -> None:
    """A clip; a library that raises on it (TorchCodec's approximate mode past its estimated frame count) is
    noted, with its reason, and timed all the same."""
    try:
        clip(h, v, indices)
    except Exception as e:  # noqa: BLE001 - any library's own error is a finding, not a crash of the benchmark
        failed.setdefault(name, []).append(f"{v.name}: {type(e).__name__}: {' '.join(str(e).split())[:160]}")


def profile_stages(videos: list[Path], clips: int) -> dict[str, dict[str, float]]:
    """Where a fresh-reader clip's time goes, per backend, in milliseconds per clip (means over the clips):
    the probe `auto` runs before a backend that is not exact everywhere, our reader's open (the library's own
    open inside it), `get_frames`; beside them the library's own open and clip call; and what the two copies
    this loader no longer makes (a reorder to contiguous `(T, C, H, W)` and a re-index of an in-order request)
    would cost on the same clip."""
    from pipeline.data.backends import BACKENDS
    from pipeline.data.backends.probe import probe_video

    idx = clip_indices(videos, clips, seed=7)
    table = ways(frame_rates(videos), [0])
    direct = {"torchcodec": table["torchcodec exact"], "decord": table["decord"], "pyav": table["pyav"]}
    out = {}
    for name, (lib_open, lib_clip, lib_close) in direct.items():
        cls = BACKENDS.get(name)
        t = {k: 0.0 for k in ("probe", "open", "get_frames", "library_open", "library_clip", "old_copies")}
        for v in videos:
            for i in idx[v]:
                t0 = time.perf_counter()
                probe = probe_video(v) if not cls.exact_everywhere else None
                t1 = time.perf_counter()
                reader = cls(v, num_threads=1, **({"probe": probe} if cls.wants_probe else {}))
                t2 = time.perf_counter()
                frames = reader.get_frames(i)
                t3 = time.perf_counter()
                reader.close()
                t3b = time.perf_counter()  # (closing is in neither column)
                h = lib_open(v)
                t4 = time.perf_counter()
                lib_clip(h, v, i)
                t5 = time.perf_counter()
                lib_close(h)
                channels_last = frames.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)  # as decoded
                t6 = time.perf_counter()
                channels_last.contiguous()[torch.arange(len(i))]  # what the old path did after decoding
                t7 = time.perf_counter()
                for k, dt in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3b, t5 - t4, t7 - t6), strict=True):
                    t[k] += dt
        n = sum(len(idx[v]) for v in videos)
        out[name] = {k: round(1000 * v / n, 2) for k, v in t.items()}
    return out


def frame_counts(videos: list[Path]) -> dict[str, dict[str, str]]:
    """Per video and library called directly: the frame count it reports against the stream's (what a
    sequential decode presents, which our readers report), and whether it returns the last frame."""
    import decord
    from torchcodec.decoders import VideoDecoder

    from pipeline.data.backends import open_video

    out: dict[str, dict[str, str]] = {}
    for v in videos:
        with open_video(v, "pyav") as r:
            real = r.meta.num_frames
        readers = {
            "torchcodec approximate": lambda v=v: VideoDecoder(str(v), seek_mode="approximate"),
            "torchcodec exact": lambda v=v: VideoDecoder(str(v), seek_mode="exact"),
            "decord": lambda v=v: decord.VideoReader(str(v), ctx=decord.cpu(0), num_threads=1),
        }
        row = {"stream": str(real)}
        for name, make in readers.items():
            h = make()
            n = h.metadata.num_frames if name.startswith("torchcodec") else len(h)
            try:
                h.get_frames_at(indices=[real - 1]) if name.startswith("torchcodec") else h.get_batch([real - 1])
                last = "returns the last frame"
            except Exception as e:  # noqa: BLE001 - the library's own refusal is the finding
                last = f"last frame: {type(e).__name__}"
            row[name] = f"{n}" + ("" if n == real else f" (stream: {real})") + f"; {last}"
        out[v.name] = row
    return out


def one_repeat(
    videos: list[Path], table: dict, clips: int, seed: int, failed: dict[str, list[str]]
) -> dict[str, dict[str, float]]:
    """Seconds per clip (fresh and reused) and per open of each way, the ways taking turns."""
    names = list(table)
    idx = clip_indices(videos, clips, seed)
    spent = {n: {"fresh": 0.0, "open": 0.0, "reused": 0.0} for n in names}
    turn = 0
    for v in videos:
        for i in range(clips):  # fresh: a reader per clip
            for k in range(len(names)):
                name = names[(turn + k) % len(names)]
                opener, clip, close = table[name]
                t0 = time.perf_counter()
                h = opener(v)
                t1 = time.perf_counter()
                _attempt(clip, h, v, idx[v][i], failed, name)
                close(h)
                spent[name]["fresh"] += time.perf_counter() - t0
                spent[name]["open"] += t1 - t0
            turn += 1
        for k in range(len(names)):  # reused: one reader for the video's clips
            name = names[(turn + k) % len(names)]
            opener, clip, close = table[name]
            t0 = time.perf_counter()
            h = opener(v)
            for i in range(clips):
                _attempt(clip, h, v, idx[v][i], failed, name)
            close(h)
            spent[name]["reused"] += time.perf_counter() - t0
        turn += 1
    total = clips * len(videos)
    return {n: {"fresh": total / s["fresh"], "reused": total / s["reused"], "open_ms": 1000 * s["open"] / total}
            for n, s in spent.items()}  # fmt: skip


def _decode_for_peak(name: str, videos: list[Path], clips: int) -> float:
    """In the child `peak_memory` starts: decode the clips with one way; the process's peak resident MB."""
    opener, clip, close = ways(frame_rates(videos), [0])[name]
    idx = clip_indices(videos, clips, 0)
    failed: dict[str, list[str]] = {}
    for v in videos:
        for i in range(clips):
            h = opener(v)
            _attempt(clip, h, v, idx[v][i], failed, name)
            close(h)
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return int(hwm.split()[1]) / 1024


def frame_rates(videos: list[Path]) -> dict[Path, float]:
    """Each video's average frame rate from its header (PyTorchVideo's clip API is by time)."""
    import av

    rates = {}
    for v in videos:
        with av.open(str(v)) as c:
            rates[v] = float(c.streams.video[0].average_rate)
    return rates


def peak_memory(name: str, videos: list[Path], clips: int) -> float:
    """Peak resident MB of a process (this script, run again) that imports every library this script uses and
    decodes the clips with one way (the imports are the same for all, so the differences are the decoding's)."""
    command = [sys.executable, __file__, "--peak-of", name, "--clips", str(clips), "--videos", *map(str, videos)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace, results: dict[str, Any], save: Callable[[], None]) -> None:
    """Measure each container of `args.containers` into `results["containers"]`, saving after each."""
    from pipeline.data.backends import open_video

    torch.set_num_threads(1)
    for name in args.containers:
        videos = make_set(name, args.cache)
        fps = frame_rates(videos)
        empty = [0]
        table = ways(fps, empty)
        for way in table.values():  # warm-up: loading a library is not decoding
            h = way[0](videos[0])
            way[1](h, videos[0], np.array([0, 1]))
            way[2](h)
        empty[0] = 0
        reps: list[dict[str, dict[str, float]]] = []
        failed: dict[str, list[str]] = {}
        for rep in range(args.repeats):
            print(f"{name}: repeat {rep + 1}/{args.repeats}", file=sys.stderr, flush=True)
            reps.append(one_repeat(videos, table, args.clips, seed=rep, failed=failed))
        med = {w: {k: statistics.median(r[w][k] for r in reps) for k in ("fresh", "reused", "open_ms")} for w in table}
        served = {}
        for v in videos:
            with open_video(v, "auto") as r:
                served[v.name] = r.backend + (f" ({r._reader.seek_mode})" if r.backend == "torchcodec" else "")
        limit = {m: max(DIRECT, key=lambda w, m=m: med[w][m]) for m in ("fresh", "reused")}
        ratio = {
            m: statistics.median(r["our auto"][m] / max(r[w][m] for w in DIRECT) for r in reps)
            for m in ("fresh", "reused")
        }
        peaks = {w: peak_memory(w, videos, max(1, args.clips // 2)) for w in table} if name in args.memory else {}
        results["containers"][name] = {
            "videos": [v.name for v in videos],
            "clips_per_s": med,
            "limit": limit,
            "auto_over_fastest_direct": ratio,
            "auto_served_by": served,
            "pytorchvideo_empty_windows": empty[0],
            "pytorchvideo_windows": len(videos) * args.clips * 8 * 2 * args.repeats,
            "peak_mb": peaks,
            "failed_clips": {w: len(v) for w, v in failed.items()},
            "failures": {w: sorted(set(v))[:3] for w, v in failed.items()},
            "clips_per_video": args.clips,
            "repeats": args.repeats,
        }
        results["containers"][name]["frame_counts"] = frame_counts(videos)
        if name == "mp4 as shipped":
            results["profile"] = profile_stages(videos, args.clips)
        save()
        print(json.dumps({name: {"auto/fastest": ratio, "limit": limit}}), file=sys.stderr, flush=True)


def report(res: dict, prov: dict[str, str]) -> str:
    parts = []
    for name in [n for n in CONTAINERS if n in res["containers"]]:
        c = res["containers"][name]
        med = c["clips_per_s"]
        best = {m: max(med[w][m] for w in DIRECT) for m in ("fresh", "reused")}
        peak = {w: f"{c['peak_mb'][w]:.0f}" if w in c["peak_mb"] else "-" for w in med}
        rows = "\n".join(
            f"| {w} | {med[w]['fresh']:.2f} | {med[w]['fresh'] / best['fresh']:.2f} | {med[w]['reused']:.2f} | "
            f"{med[w]['reused'] / best['reused']:.2f} | {med[w]['open_ms']:.1f} | {peak[w]} |"
            for w in (*DIRECT, *OURS, *PEER)
        )
        failures = "".join(
            f"\n- `{w}` failed {n} clips: {'; '.join(c['failures'][w])}" for w, n in c.get("failed_clips", {}).items()
        )
        served = ", ".join(f"{v}: {b}" for v, b in c["auto_served_by"].items())
        counts = "".join(
            f"\n| {v} | " + " | ".join(row[w] for w in ("torchcodec approximate", "torchcodec exact", "decord")) + " |"
            for v, row in c.get("frame_counts", {}).items()
        )
        if counts:
            counts = ("\n\nFrames each library reports (our readers report the stream's) and whether it returns the "
                      "last one:\n\n| video | torchcodec approximate | torchcodec exact | decord |\n|---|---|---|---|"
                      + counts)  # fmt: skip
        run = f"Measured by `{c['command']}` ({c['date']}), " if "command" in c else ""
        parts.append(f"""### {name}

{run}{c.get("clips_per_video", res.get("clips_per_video"))} clips per video, {c.get("repeats", res.get("repeats"))} repeats. Videos: {", ".join(c["videos"])}. `auto` served them with {served}. The limit (fastest library called
directly): **{c["limit"]["fresh"]}** with a fresh reader per clip, **{c["limit"]["reused"]}** with one reader
per video. `auto` / that: **{c["auto_over_fastest_direct"]["fresh"]:.3f}** fresh, **{c["auto_over_fastest_direct"]["reused"]:.3f}**
reused (medians of the per-repeat ratios). PyTorchVideo returned {c["pytorchvideo_empty_windows"]} empty
one-frame windows of {c["pytorchvideo_windows"]}.{failures}{counts}

| way | clips/s, fresh reader | / fastest direct | clips/s, reused reader | / fastest direct | open (ms) | peak MB |
|---|---|---|---|---|---|---|
{rows}
""")
    body = "\n".join(parts)
    for name, e in res.get("earlier_runs", {}).items():
        r = e["auto_over_fastest_direct"]
        body += (f"\nEarlier run of {name}: `{e['command']}` ({e['date']}), {e['clips_per_video']} clips per video, "
                 f"{e['repeats']} repeats: `auto` / fastest {r['fresh']:.3f} fresh, {r['reused']:.3f} reused; "
                 "measured again with more clips, above.\n")  # fmt: skip
    if "profile" in res:
        prof = res["profile"]
        lines = "\n".join(
            f"| {b} | {t['probe']:.1f} | {t['open']:.1f} | {t['get_frames']:.1f} | "
            f"{t['probe'] + t['open'] + t['get_frames']:.1f} | {t['library_open']:.1f} | {t['library_clip']:.1f} | "
            f"{t['library_open'] + t['library_clip']:.1f} | {t['old_copies']:.1f} |"
            for b, t in prof.items()
        )
        body = f"""## Where a clip's time goes (mp4 as shipped, fresh reader, ms per clip)

Each backend's stages beside the library called directly on the same clips (TorchCodec called in exact
mode; ours opens these constant-rate mp4s in approximate mode, as the probe allows; PyAV called directly:
decoding front to back);
the last column is what this loader no longer spends: before, every clip was reordered into a contiguous
`(T, C, H, W)` tensor and re-indexed even when asked in order, two full copies.

| backend | `auto`'s probe | our open | `get_frames` | ours in all | library open | library clip | library in all | the two copies dropped |
|---|---|---|---|---|---|---|---|---|
{lines}

What is left over the library is opening: the probe (PyAV opens the file and decodes its first frame to
learn the container, the rotation and whether mp4's sample table is an even grid) before TorchCodec and
decord, which keeps them exact; PyAV's own open decodes the first frame too, but a first request in the
first group of pictures goes on from it.

{body}"""
    return f"""# The loader against the libraries it wraps and PyTorchVideo

Last run: `{prov["command"]}` ({prov["date"]}); each container says which run measured it.

{__doc__.split("    .venv")[0].strip()}

TSN-8 clips (each container says how many per video and how many repeats; medians); one decoding thread,
one torch thread. A failed clip is timed as it went and listed. Peak MB (where measured): VmHWM of a process
that imports all of these libraries (torch, TorchCodec, decord, PyAV, PyTorchVideo) and decodes half the
clips with one way, so the differences between ways are the decoding's.

{body}
Machine: {prov["machine"]}.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench")
    p.add_argument("--cache", type=Path, default=Path("/tmp/vap-bench-loader"))
    p.add_argument("--clips", type=int, default=6, help="clips per video per repeat (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--containers", nargs="+", default=list(CONTAINERS), choices=list(CONTAINERS), metavar="NAME",
                   help="measure these again only, keeping the others in --out's JSON (default: all)")  # fmt: skip
    p.add_argument(
        "--memory",
        nargs="+",
        default=["mp4 as shipped", "WebM VP9"],
        metavar="NAME",
        help="containers to measure peak memory on (a process per way; default: %(default)s)",
    )
    p.add_argument("--quick", action="store_true", help="one repeat, 2 clips a video, no memory runs")
    p.add_argument("--counts-only", action="store_true", help="add the frame-count check to --out's JSON (seconds)")
    p.add_argument("--report-only", action="store_true", help="write the Markdown report again from --out's JSON")
    p.add_argument("--peak-of", default=None, help=argparse.SUPPRESS)  # the child of `peak_memory`
    p.add_argument("--videos", nargs="+", type=Path, default=[], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.peak_of:
        print(_decode_for_peak(args.peak_of, args.videos, args.clips))
        return
    name = "loader_quick" if args.quick else "loader"
    if args.counts_only:  # the checks came after the timings: add them without timing everything again
        saved = json.loads((args.out / f"{name}.json").read_text())
        for container, c in saved["results"]["containers"].items():
            c["frame_counts"] = frame_counts(make_set(container, args.cache))
        torch.set_num_threads(1)
        saved["results"]["profile"] = profile_stages(make_set("mp4 as shipped", args.cache), args.clips)
        (args.out / f"{name}.json").write_text(json.dumps(saved, indent=1) + "\n")
        (args.out / f"{name}.md").write_text(report(saved["results"], saved["provenance"]))
        return
    if args.report_only:
        saved = json.loads((args.out / f"{name}.json").read_text())
        (args.out / f"{name}.md").write_text(report(saved["results"], saved["provenance"]))
        return
    if args.quick:
        args.clips, args.repeats, args.memory = 2, 1, []
    saved = args.out / f"{name}.json"
    res = json.loads(saved.read_text())["results"] if saved.exists() else {"containers": {}}
    res.update(clips_per_video=args.clips, repeats=args.repeats)
    prov = provenance("bench/bench_loader.py")
    args.out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        for container in args.containers:  # what was measured in this run says so
            if container in res["containers"]:
                res["containers"][container].update(command=prov["command"], date=prov["date"])
        saved.write_text(json.dumps({"results": res, "provenance": prov}, indent=1) + "\n")
        (args.out / f"{name}.md").write_text(report(res, prov))

    args.memory = [m for m in args.memory if m in args.containers]
    run(args, res, save)
    print(f"wrote {args.out / name}.md", file=sys.stderr)


if __name__ == "__main__":
    main()
