"""Does `vap summarize` pick better key frames than what users run instead? N key frames per video from every
method, judged on real footage in a feature space the summarizer does not use (colour histograms).

Methods, each asked for the same N frames of every video:
- `vap summarize VIDEO --keyframes N --no-video [--method M]`, run as a user runs it (a fresh process; its
  summary.json's `keyframes`), once per method of `--methods` (`default`: no `--method`);
- uniform: the middle frames of N equal parts of the video;
- PySceneDetect: `scenedetect.detect(VIDEO, ContentDetector())` with its defaults, the middle frame of each
  scene; the N longest scenes when it finds more, the longest scene split in half until there are N when fewer;
- ffmpeg's `thumbnail` filter (`-vf thumbnail=n=frames//N`: the most representative frame of each batch), the
  first N it gives.

Every chosen frame is decoded the same way (PyAV, sequentially: frame n is the n-th frame the decode presents)
and described by an HSV colour histogram (`HIST_BINS`, L1-normalised, on the frame scaled to `STATS_WIDTH`
pixels wide); similarity is histogram intersection. Per video, lower is better for all three:
- coverage: the mean, over the video's frames sampled at `SAMPLE_FPS` (from half a step in), of
  1 - the similarity to the nearest key frame;
- redundancy: the highest similarity between two key frames;
- bad frames: the share of key frames that are black, washed out, blank or blurred (thresholds below).

Footage, made reproducibly in `--work` with the `ffmpeg` program from what is offline: the three sample videos
(datasets/samples) as they are, and videos cut together from them and from moving-digits renders
(keyframe_footage.py): hard cuts, fades through black and white, a static camera, scenes coming back many times, defocused
and dark stretches, and copies as MPEG-4 AVI, MPEG-2 program stream and 10 fps.

    .venv/bin/python scripts/bench/bench_keyframes.py                       # docs/bench/keyframes.md and .json
    .venv/bin/python scripts/bench/bench_keyframes.py --quick --out /tmp/kf  # 2 short videos, N=3, default only
    .venv/bin/python scripts/bench/bench_keyframes.py --keyframes 8 --methods default,rl --videos cuts,repeats
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from keyframe_footage import COPIES, QUICK_VIDEOS, SAMPLE_VIDEOS, VIDEOS, Video, make_footage

REPO = Path(__file__).resolve().parents[2]

# Frame descriptor and coverage
HIST_BINS = (8, 4, 4)  # hue x saturation x value
STATS_WIDTH = 320  # every statistic is taken on the frame scaled (area) to this width
SAMPLE_FPS = 2.0  # coverage is measured over the frames at this rate
# Bad frames: black, washed out, blank (luma in 0-255, BT.601) or blurred
BLACK_LUMA = 20.0  # mean luma below
WASHED_OUT_LUMA = 235.0  # mean luma above
BLANK_STD = 8.0  # luma standard deviation below
BLUR_SHARE = 0.25  # variance of the Laplacian below this share of the median of the video's sampled frames ...
SAME_SCENE = 0.6  # ... that look like the frame (intersection at least this; all of them when none does). Scenes
# differ in texture: against every sampled frame (SAME_SCENE = 0), an upscaled 176x144 talking head cut between
# sharper scenes counted as blurred in all its frames (52 of 178 sampled frames of `repeats`, none defocused).

BASELINES = ("uniform", "scenedetect", "thumbnail")
NAMES = {"uniform": "uniform", "scenedetect": "PySceneDetect", "thumbnail": "ffmpeg thumbnail"}
VAP_TIMEOUT_S = 1800


@dataclass
class FrameStats:
    hist: np.ndarray  # (prod(HIST_BINS),) L1-normalised HSV histogram
    luma: float
    luma_std: float
    sharpness: float  # variance of the Laplacian of the grey frame


@dataclass
class Pick:
    method: str
    indices: list[int] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the picker (`vap summarize`: the whole command)
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    coverage: float | None = None
    redundancy: float | None = None
    bad: list[list[str]] = field(default_factory=list)  # per key frame, why it is bad ([] when it is not)


# --------------------------------------------------------------------------------------- frames, metrics

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601


def frame_stats(rgb: np.ndarray) -> FrameStats:
    """Histogram, luma and sharpness of one `(H, W, 3)` uint8 RGB frame (already `STATS_WIDTH` wide)."""
    from PIL import Image

    bins = np.array(HIST_BINS)
    hsv = np.asarray(Image.fromarray(rgb).convert("HSV")).astype(np.int64)  # (H, W, 3), each 0-255
    q = hsv * bins // 256  # (H, W, 3) bin of each channel
    flat = (q[..., 0] * bins[1] + q[..., 1]) * bins[2] + q[..., 2]  # (H, W)
    hist = np.bincount(flat.ravel(), minlength=int(bins.prod())).astype(np.float64)
    grey = rgb.astype(np.float32) @ LUMA  # (H, W)
    lap = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1]  # (H-2, W-2)
    return FrameStats(hist / hist.sum(), float(grey.mean()), float(grey.std()), float(lap.var()))


def read_frames(path: str | Path, indices: Iterable[int] | None = None) -> tuple[int, float, dict[int, FrameStats]]:
    """Decode the whole video sequentially with PyAV: its frame count, its frame rate and the stats of the frames
    `indices` (None: the `SAMPLE_FPS` grid, `sample_grid`)."""
    import av

    wanted = None if indices is None else set(indices)
    stats: dict[int, FrameStats] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate)
        step, k = fps / SAMPLE_FPS, 0
        n = -1
        for n, frame in enumerate(container.decode(stream)):
            if wanted is None:
                take = n == int((k + 0.5) * step)
                while int((k + 0.5) * step) <= n:
                    k += 1
            else:
                take = n in wanted
            if take:
                height = 2 * round(frame.height * STATS_WIDTH / frame.width / 2)
                small = frame.reformat(width=STATS_WIDTH, height=height, format="rgb24", interpolation="AREA")
                stats[n] = frame_stats(small.to_ndarray())
    return n + 1, fps, stats


def sample_grid(num_frames: int, fps: float) -> list[int]:
    """The frames coverage is measured over: one at (k + 1/2) / SAMPLE_FPS seconds for every k."""
    step = fps / SAMPLE_FPS
    return sorted({int((k + 0.5) * step) for k in range(int(num_frames / step) + 1)} & set(range(num_frames)))


def similarity(a: FrameStats, b: FrameStats) -> float:
    """Histogram intersection, in [0, 1]."""
    return float(np.minimum(a.hist, b.hist).sum())


def coverage(samples: list[FrameStats], keys: list[FrameStats]) -> float:
    """Mean over `samples` of the distance (1 - intersection) to the nearest key frame."""
    s = np.stack([f.hist for f in samples])  # (S, B)
    k = np.stack([f.hist for f in keys])  # (K, B)
    inter = np.minimum(s[:, None], k[None]).sum(-1)  # (S, K)
    return float(np.mean(1.0 - inter.max(1)))


def redundancy(keys: list[FrameStats]) -> float | None:
    """The highest similarity between two key frames (None for fewer than two)."""
    pairs = [similarity(a, b) for i, a in enumerate(keys) for b in keys[i + 1 :]]
    return max(pairs) if pairs else None


def blur_floor(f: FrameStats, samples: list[FrameStats]) -> float:
    """Sharpness below which `f` counts as blurred: a share of the median of the sampled frames of its scene."""
    scene = [s.sharpness for s in samples if similarity(f, s) >= SAME_SCENE] or [s.sharpness for s in samples]
    return BLUR_SHARE * float(np.median(scene))


def bad_reasons(f: FrameStats, samples: list[FrameStats]) -> list[str]:
    """Why a key frame is bad: black, washed out, blank, blurred; [] when it is fine."""
    reasons = []
    if f.luma < BLACK_LUMA:
        reasons.append("black")
    if f.luma > WASHED_OUT_LUMA:
        reasons.append("washed out")
    if f.luma_std < BLANK_STD:
        reasons.append("blank")
    if f.sharpness < blur_floor(f, samples):
        reasons.append("blurred")
    return reasons


# ---------------------------------------------------------------------------------------------- pickers


def pick_uniform(num_frames: int, n: int) -> list[int]:
    """The middle frame of each of n equal parts."""
    return [int((i + 0.5) * num_frames / n) for i in range(n)]


def from_scenes(scenes: list[tuple[int, int]], n: int) -> list[int]:
    """n middle frames of `[start, end)` scenes: of the n longest when there are more, else of the scenes with
    the longest split in half until there are n."""
    spans = list(scenes)
    if len(spans) > n:
        spans = sorted(sorted(spans, key=lambda s: s[0] - s[1])[:n])  # stable: the earlier of equal lengths
    while len(spans) < n:
        i = max(range(len(spans)), key=lambda j: spans[j][1] - spans[j][0])
        start, end = spans[i]
        if end - start < 2:
            break
        spans[i : i + 1] = [(start, start + (end - start) // 2), (start + (end - start) // 2, end)]
    return [start + (end - start) // 2 for start, end in spans]


def pick_scenedetect(path: str | Path, n: int) -> tuple[list[int], dict[str, Any]]:
    """PySceneDetect's ContentDetector with its defaults, as its Python API is called (`start_in_scene`: a video
    without a cut is one scene, not none)."""
    from scenedetect import ContentDetector, detect

    scenes = [(a.frame_num, b.frame_num) for a, b in detect(str(path), ContentDetector(), start_in_scene=True)]
    return from_scenes(scenes, n), {"scenes": len(scenes)}


def pick_thumbnail(path: str | Path, n: int, num_frames: int, fps: float) -> tuple[list[int], dict[str, Any]]:
    """ffmpeg's thumbnail filter on batches of num_frames // n frames; showinfo tells which frames it kept."""
    batch = max(1, num_frames // n)
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", str(path), "-an", "-vf",
         f"setpts=PTS-STARTPTS,thumbnail=n={batch},showinfo", "-f", "null", "-"],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    times = [float(t) for t in re.findall(r"Parsed_showinfo.*?pts_time:\s*(-?[\d.]+)", done.stderr)]
    return [min(num_frames - 1, round(t * fps)) for t in times][:n], {"batch": batch, "given": len(times)}


def vap_command(video: str | Path, out: Path, n: int, method: str) -> list[str]:
    extra = [] if method == "default" else ["--method", method]
    return [sys.executable, "-m", "pipeline.cli", "summarize", str(video), "--out", str(out), "--keyframes", str(n),
            "--no-video", *extra]  # fmt: skip


def pick_vap(video: str | Path, n: int, method: str, work: Path) -> tuple[list[int], dict[str, Any]]:
    """`vap summarize` in a fresh process, as a user runs it; the key frames its summary.json lists."""
    out = work / "vap" / method
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run(vap_command(video, out, n, method), capture_output=True, text=True, timeout=VAP_TIMEOUT_S,
                          cwd=work)  # fmt: skip
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(lines[-1])
    summary = json.loads((out / Path(video).stem / "summary.json").read_text())
    return [int(k) for k in summary["keyframes"]], {}


# --------------------------------------------------------------------------------------------------- run


def judge(video: Video, picks: list[Pick], sampled: dict[int, FrameStats]) -> None:
    """Coverage, redundancy and bad frames of every pick that has frames (one more decode of the video, for the
    key frames off the sampled grid)."""
    grid = sample_grid(video.frames, video.fps)
    if grid != sorted(sampled):
        raise RuntimeError(f"{video.name}: sampled frames {sorted(sampled)[:5]}... differ from the grid")
    asked = {i for p in picks if not p.error for i in p.indices} - set(sampled)
    _, _, keys = read_frames(video.path, asked)
    frames = {**sampled, **keys}
    samples = [sampled[i] for i in grid]
    for p in picks:
        if p.error:
            continue
        chosen = [frames[i] for i in p.indices]
        p.coverage = round(coverage(samples, chosen), 4)
        r = redundancy(chosen)
        p.redundancy = None if r is None else round(r, 4)
        p.bad = [bad_reasons(f, samples) for f in chosen]
    video.sampled = len(grid)


def run_video(video: Video, n: int, methods: list[str], work: Path) -> list[Pick]:
    import av

    video.frames, video.fps, sampled = read_frames(video.path)
    with av.open(video.path) as c:
        s = c.streams.video[0]
        video.size, video.codec = f"{s.codec_context.width}x{s.codec_context.height}", s.codec_context.name
    pickers = {
        "uniform": lambda: (pick_uniform(video.frames, n), {}),
        "scenedetect": lambda: pick_scenedetect(video.path, n),
        "thumbnail": lambda: pick_thumbnail(video.path, n, video.frames, video.fps),
        **{f"vap:{m}": (lambda m=m: pick_vap(video.path, n, m, work)) for m in methods},
    }
    picks = []
    for name, picker in pickers.items():
        pick = Pick(name)
        t0 = time.perf_counter()
        try:
            pick.indices, pick.info = picker()
            pick.seconds = round(time.perf_counter() - t0, 2)
            if not pick.indices or not all(0 <= i < video.frames for i in pick.indices):
                raise ValueError(f"frames {pick.indices} not in [0, {video.frames})")
            if len(pick.indices) != n:
                pick.info["asked"] = n
                print(f"bench_keyframes: {name} gave {len(pick.indices)} key frames of {n} on {video.name}",
                      file=sys.stderr)  # fmt: skip
        except Exception as e:  # one method failing on one video: say so, go on
            pick.error = f"{type(e).__name__}: {e}"[:300]
            pick.seconds = round(time.perf_counter() - t0, 2)
            print(f"bench_keyframes: {name} failed on {video.name}: {pick.error}", file=sys.stderr)
        picks.append(pick)
    judge(video, picks, sampled)
    return picks


def summarize(results: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Pooled figures per method, and for each of ours the goals: coverage better than each baseline on most
    videos, no bad frame, redundancy no higher than uniform's."""

    def ok(r: dict[str, Any], m: str) -> dict[str, Any] | None:
        p = r["picks"].get(m)
        return p if p and p["error"] is None else None

    pooled = {}
    for m in [*BASELINES, *(f"vap:{x}" for x in methods)]:
        done = [p for r in results if (p := ok(r, m))]
        reasons = [why for p in done for bad in p["bad"] for why in bad]
        pooled[m] = {
            "videos": len(done),
            "failed": len(results) - len(done),
            "coverage": round(float(np.mean([p["coverage"] for p in done])), 4) if done else None,
            "redundancy": round(float(np.mean([p["redundancy"] for p in done if p["redundancy"] is not None])), 4)
            if any(p["redundancy"] is not None for p in done) else None,
            "key_frames": sum(len(p["bad"]) for p in done),
            "bad_frames": sum(bool(bad) for p in done for bad in p["bad"]),
            "bad_reasons": {why: reasons.count(why) for why in ("black", "washed out", "blank", "blurred")},
            "seconds": round(sum(p["seconds"] for p in done), 1),
        }  # fmt: skip
    goals = {}
    for m in (f"vap:{x}" for x in methods):
        beats = {}
        for b in BASELINES:
            both = [(ok(r, m), ok(r, b)) for r in results if ok(r, m) and ok(r, b)]
            beats[b] = {"wins": sum(o["coverage"] < x["coverage"] for o, x in both), "videos": len(both)}
        both = [(ok(r, m), ok(r, "uniform")) for r in results if ok(r, m) and ok(r, "uniform")]
        both = [(o, u) for o, u in both if o["redundancy"] is not None and u["redundancy"] is not None]
        red = {"no_higher": sum(o["redundancy"] <= u["redundancy"] for o, u in both), "videos": len(both),
               "mean": round(float(np.mean([o["redundancy"] for o, _ in both])), 4) if both else None,
               "uniform_mean": round(float(np.mean([u["redundancy"] for _, u in both])), 4) if both else None}  # fmt: skip
        goals[m] = {
            "coverage_beats": beats,
            "coverage_goal": all(v["videos"] and 2 * v["wins"] > v["videos"] for v in beats.values()),
            "zero_bad_frames": pooled[m]["videos"] > 0 and pooled[m]["bad_frames"] == 0,
            "redundancy": red,
            "redundancy_goal": red["mean"] is not None and red["mean"] <= red["uniform_mean"],
        }
        goals[m]["met"] = goals[m]["coverage_goal"] and goals[m]["zero_bad_frames"] and goals[m]["redundancy_goal"]
    return {"pooled": pooled, "goals": goals}


def label(m: str) -> str:
    if m in NAMES:
        return NAMES[m]
    method = m.split(":", 1)[1]
    return "`vap summarize`" if method == "default" else f"`vap summarize --method {method}`"


def report(saved: dict[str, Any]) -> str:
    cfg, prov, results, summary = saved["config"], saved["provenance"], saved["results"], saved["summary"]
    ms = [*BASELINES, *(f"vap:{x}" for x in cfg["methods"])]
    n = cfg["keyframes"]

    def cell(r: dict[str, Any], m: str, what: str) -> str:
        p = r["picks"].get(m)
        if p is None or p["error"] is not None:
            return "failed"
        if what == "bad":
            bad = [", ".join(b) for b in p["bad"] if b]
            return f"{len(bad)}" + (f" ({'; '.join(bad)})" if bad else "")
        value = p[what]
        if value is None:
            return "-"
        done = [q[what] for q in r["picks"].values() if q["error"] is None and q[what] is not None]
        text = f"{value:.3f}" + ("" if len(p["indices"]) == n else f" ({len(p['indices'])} frames)")
        return f"**{text}**" if what == "coverage" and value == min(done) else text

    def table(what: str) -> list[str]:
        return [f"| video | {' | '.join(label(m) for m in ms)} |", f"|---|{'---|' * len(ms)}",
                *[f"| {r['video']['name']} | {' | '.join(cell(r, m, what) for m in ms)} |" for r in results]]  # fmt: skip

    pooled = summary["pooled"]

    def pooled_row(m: str) -> str:
        p = pooled[m]
        if not p["videos"]:
            return f"| {label(m)} | failed on every video | | | | | |"
        reasons = ", ".join(f"{k} {v}" for k, v in p["bad_reasons"].items() if v) or "-"
        red = "-" if p["redundancy"] is None else f"{p['redundancy']:.3f}"
        return (f"| {label(m)} | {p['coverage']:.3f} | {red} | {p['bad_frames']} of {p['key_frames']} | {reasons} | "
                f"{p['seconds']:g} | {p['failed']} |")  # fmt: skip

    def goal_row(m: str) -> str:
        g = summary["goals"][m]
        beats = " | ".join(f"{v['wins']} of {v['videos']}" for v in g["coverage_beats"].values())
        red = g["redundancy"]
        red_text = (f"{red['mean']:.3f} vs {red['uniform_mean']:.3f}; no higher on {red['no_higher']} of "
                    f"{red['videos']} videos" if red["mean"] is not None else "-")  # fmt: skip
        yes = lambda b: "yes" if b else "**no**"  # noqa: E731
        return (f"| {label(m)} | {beats} | {yes(g['coverage_goal'])} | {yes(g['zero_bad_frames'])} | {red_text} | "
                f"{yes(g['redundancy_goal'])} | {yes(g['met'])} |")  # fmt: skip

    videos = [
        f"| {r['video']['name']} | {r['video']['what']} | {r['video']['frames'] / r['video']['fps']:.1f} | "
        f"{r['video']['size']} | {r['video']['fps']:g} | {r['video']['codec']} | {r['video']['frames']} | "
        f"{(r['picks'].get('scenedetect') or {}).get('info', {}).get('scenes', '-')} |"
        for r in results
    ]
    errors = [f"- {label(m)} on {r['video']['name']}: `{p['error']}`" for r in results for m, p in r["picks"].items()
              if p["error"]] + [f"- {s['video']} skipped: `{s['error']}`" for s in saved.get("skipped", [])]  # fmt: skip
    ours = [m for m in ms if m.startswith("vap:")]
    lines = [
        "# Key frames: `vap summarize` against uniform sampling, PySceneDetect and ffmpeg's thumbnail filter",
        "",
        f"Command: `{prov['command']}`  ",
        f"Machine: {prov['machine']}  ",
        f"Date: {prov['date']}",
        "",
        f"Every method picks **{n} key frames** of each of {len(results)} videos: `vap summarize VIDEO --keyframes "
        f"{n} --no-video` ({', '.join('default' if m == 'vap:default' else '`--method ' + m[4:] + '`' for m in ours)}; "
        "a fresh process each, as a user runs it), uniform (the middle frames of N equal parts), PySceneDetect "
        f"{cfg['scenedetect']} (`detect(video, ContentDetector())`, its defaults; the middle frame of each scene, the N "
        "longest scenes when it finds more, the longest split in half until there are N when fewer) and ffmpeg's "
        "`thumbnail` filter (`-vf thumbnail=n=frames//N`, its first N frames). All frames are decoded the same way "
        "(PyAV, sequentially) and described by colour, not by the MobileNetV2 features the summarizer uses: an HSV "
        f"histogram of {'x'.join(map(str, HIST_BINS))} bins of the frame scaled to {STATS_WIDTH} px wide, compared by "
        "histogram intersection. Lower is better everywhere:",
        "",
        f"- **coverage**: the mean, over the video's frames at {SAMPLE_FPS:g} fps (from half a step in), of 1 - the "
        "similarity to the nearest key frame (how much of what the video shows the key frames miss);",
        "- **redundancy**: the highest similarity between two key frames of the video (1: two look the same);",
        f"- **bad frames**: key frames that are black (mean luma < {BLACK_LUMA:g} of 255), washed out (> "
        f"{WASHED_OUT_LUMA:g}), blank (luma standard deviation < {BLANK_STD:g}) or blurred (variance of the "
        f"Laplacian at {STATS_WIDTH} px wide < {BLUR_SHARE:g} x the median of the video's sampled frames of the same "
        f"scene: those whose intersection with it is at least {SAME_SCENE:g}; scenes differ in texture, and against "
        "all sampled frames a sharp but low-resolution scene counts as blurred in every frame).",
        "",
        "## Goals, per `vap summarize` method",
        "",
        "Coverage better than each baseline on most videos, no bad frame, redundancy no higher than uniform's "
        "(pooled: the mean over the videos both have).",
        "",
        f"| method | coverage better than {' | better than '.join(NAMES[b] for b in BASELINES)} | on most videos | "
        "zero bad frames | redundancy, mean vs uniform's | redundancy goal | all goals |",
        f"|---|{'---|' * (len(BASELINES) + 5)}",
        *[goal_row(m) for m in ours],
        "",
        f"## Pooled over the videos ({len(results)})",
        "",
        "| method | coverage (mean) | redundancy (mean) | bad frames | why | seconds, all videos (`vap`: whole commands) "
        "| videos failed |",
        "|---|---|---|---|---|---|---|",
        *[pooled_row(m) for m in ms],
        "",
        "## Coverage per video (best in bold)",
        "",
        *table("coverage"),
        "",
        "## Redundancy per video",
        "",
        *table("redundancy"),
        "",
        "## Bad frames per video (how many of the key frames, and why)",
        "",
        *table("bad"),
        "",
        "## Videos",
        "",
        "Made with the `ffmpeg` program from the sample videos and moving-digits renders (`keyframe_footage.py`: "
        "`SCENES`, `VIDEOS`, `COPIES`; 640x360 at 25 fps, H.264 with x264's defaults, unless the name says "
        "otherwise); the MD5 of each file is in the JSON. Frames: as a sequential decode presents them.",
        "",
        "| video | what | seconds | size | fps | codec | frames | PySceneDetect scenes |",
        "|---|---|---|---|---|---|---|---|",
        *videos,
        "",
        *(["## Errors", "", *errors, ""] if errors else []),
        f"Every chosen frame index and all numbers: `{cfg['name']}.json`. One run; rerun for your machine.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "bench", help="report folder")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vap-bench-keyframes")
    p.add_argument("--quick", action="store_true", help="2 made videos of 6 s, N=3, the default method only")
    p.add_argument("--keyframes", type=int, default=None, help="key frames per video, every method (default: 5)")
    p.add_argument("--methods", default=None, help="`vap summarize` methods (default: default,rl,coverage)")
    p.add_argument("--videos", default=None, help="only these videos, by name without extension (e.g. cuts,bikes)")
    p.add_argument("--name", default=None, help="report name (default: keyframes, keyframes_quick with --quick)")
    args = p.parse_args(argv)
    n = args.keyframes or (3 if args.quick else 5)
    methods = (args.methods or ("default" if args.quick else "default,rl,coverage")).split(",")
    name = args.name or ("keyframes_quick" if args.quick else "keyframes")
    import scenedetect

    from pipeline.env import provenance

    only = set(args.videos.split(",")) if args.videos else None
    known = {Path(v).stem for v in [*SAMPLE_VIDEOS, *QUICK_VIDEOS, *VIDEOS, *COPIES]}
    if only and only - known:
        p.error(f"--videos: no video named {', '.join(sorted(only - known))} (known: {', '.join(sorted(known))})")
    videos = make_footage(args.work, args.quick, only)
    results, skipped = [], []
    for video in videos:
        t0 = time.perf_counter()
        try:
            picks = run_video(video, n, methods, args.work)
        except Exception as e:  # a video that cannot be decoded: say so, go on
            skipped.append({"video": video.name, "error": f"{type(e).__name__}: {e}"[:300]})
            print(f"bench_keyframes: skipped {video.name}: {skipped[-1]['error']}", file=sys.stderr)
            continue
        results.append({"video": asdict(video), "picks": {p.method: asdict(p) for p in picks}})
        cov = ", ".join(f"{p.method} {p.coverage:.3f}" for p in picks if p.coverage is not None)
        print(f"{video.name}: coverage {cov} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    thresholds = {"black_luma": BLACK_LUMA, "washed_out_luma": WASHED_OUT_LUMA, "blank_std": BLANK_STD,
                  "blur_share": BLUR_SHARE, "same_scene": SAME_SCENE}  # fmt: skip
    cfg = {"name": name, "keyframes": n, "methods": methods, "quick": args.quick, "scenedetect": scenedetect.__version__,
           "thresholds": thresholds, "hist_bins": HIST_BINS, "stats_width": STATS_WIDTH, "sample_fps": SAMPLE_FPS}  # fmt: skip
    saved = {"config": cfg, "provenance": provenance("bench/bench_keyframes.py", argv), "results": results,
             "skipped": skipped, "summary": summarize(results, methods)}  # fmt: skip
    write_report(saved, args.out)
    return saved


def write_report(saved: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    name = saved["config"]["name"]
    (out / f"{name}.json").write_text(json.dumps(saved, indent=1) + "\n")
    (out / f"{name}.md").write_text(report(saved))
    print(f"wrote {out / name}.md", file=sys.stderr)


if __name__ == "__main__":
    main()
