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
(datasets/samples) as they are, and videos cut together from them and from moving-digits renders (`SCENES`,
`VIDEOS`): hard cuts, fades through black and white, a static camera, scenes coming back many times, defocused
and dark stretches, and copies as MPEG-4 AVI, MPEG-2 program stream and 10 fps.

    .venv/bin/python scripts/bench/bench_keyframes.py                       # docs/bench/keyframes.md and .json
    .venv/bin/python scripts/bench/bench_keyframes.py --quick --out /tmp/kf  # 2 short videos, N=3, default only
    .venv/bin/python scripts/bench/bench_keyframes.py --keyframes 8 --methods default,rl --videos cuts,repeats
"""

from __future__ import annotations

import argparse
import hashlib
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

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "datasets" / "samples"

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

# Made footage: every scene becomes a lossless 640x360 25 fps clip, looped (`-stream_loop`) to each segment's
# length. A scene: ("video", sample, start s, length s or None for all), ("still", sample, time s: that frame
# held) or ("digits", seed, index: the first event of that `moving-digits-timeline` render, a digit moving on
# a wrapping canvas; seeds whose event is neither dark nor blank).
SIZE, FPS = (640, 360), 25
FOOTAGE_VERSION = 1  # bump when a recipe changes: the work folder's copies are made again
SCENES: dict[str, tuple] = {
    "bunny": ("video", "bigbuckbunny.mp4", 0.0, None),
    "carphone": ("video", "carphone_pristine.mp4", 0.0, None),
    "suit": ("video", "bikes.mp4", 1.2, 1.84),  # bikes.mp4's camera shots
    "cars": ("video", "bikes.mp4", 3.04, 2.44),
    "fence": ("video", "bikes.mp4", 5.48, 2.0),
    "rack": ("video", "bikes.mp4", 7.48, 2.2),
    "still_cars": ("still", "bikes.mp4", 4.4),
    "still_bunny": ("still", "bigbuckbunny.mp4", 3.0),
    "digits_purple": ("digits", 4, 0),
    "digits_green": ("digits", 26, 0),
}
NOISE = "noise=alls=6:allf=t+u:all_seed={}"  # light grain on stills; seeded, so the same in every run


def _fade(kind: str, start: float, seconds: float, colour: str = "black") -> str:
    return f"fade=t={kind}:st={start:g}:d={seconds:g}:color={colour}"


# Each made video: (what it is, [(scene, seconds, ffmpeg filters on the segment, t from its start)]).
VIDEOS: dict[str, tuple[str, list[tuple[str, float, str]]]] = {
    "cuts": ("hard cuts between 5 scenes of 12, 3, 8, 2, 6 s",
             [("bunny", 12, ""), ("carphone", 3, ""), ("fence", 8, ""), ("digits_purple", 2, ""), ("suit", 6, "")]),
    "fades": ("4 scenes: fade in from black, fades through black, a white flash, fade out to black",
              [("cars", 8, f"{_fade('in', 0, 1.5)},{_fade('out', 7.25, 0.75)}"),
               ("carphone", 7, f"{_fade('in', 0, 0.75)},{_fade('out', 6.5, 0.5, 'white')}"),
               ("bunny", 8, f"{_fade('in', 0, 0.5, 'white')},{_fade('out', 7.25, 0.75)}"),
               ("digits_green", 9, f"{_fade('in', 0, 0.75)},{_fade('out', 7.5, 1.5)}")]),
    "static": ("static camera: a still held 20 s with grain, a cut to another still (8 s), then 6 s of motion",
               [("still_cars", 20, NOISE.format(1)), ("still_bunny", 8, NOISE.format(2)), ("rack", 6, "")]),
    "repeats": ("scene A comes back 8 times, B 4 times, C twice (A B A C A B A D A B A C A B A E), 89 s",
                [(s, sec, "") for s, sec in (("bunny", 6), ("carphone", 5), ("bunny", 7), ("fence", 4),
                                             ("bunny", 5), ("carphone", 6), ("bunny", 6), ("digits_purple", 4),
                                             ("bunny", 7), ("carphone", 5), ("bunny", 6), ("fence", 5),
                                             ("bunny", 5), ("carphone", 6), ("bunny", 7), ("rack", 5))]),
    "blur": ("4 scenes, part of each defocused (Gaussian, box blur) or near-black (3.5 s)",
             [("cars", 10, "gblur=sigma=6:enable='between(t,3,7)'"),
              ("bunny", 10, "boxblur=8:enable='between(t,4,8)'"),
              ("carphone", 8, "eq=brightness=-0.9:enable='between(t,0,3.5)'"),
              ("suit", 6, "gblur=sigma=10:enable='between(t,0,2.5)'")]),
}  # fmt: skip
# Copies in containers users bring: (source video, ffmpeg output options, what it is).
COPIES: dict[str, tuple[str, list[str], str]] = {
    "cuts_mpeg4.avi": ("cuts", ["-c:v", "mpeg4", "-q:v", "3"], "`cuts` as MPEG-4 part 2 in AVI"),
    "fades_mpeg2.mpg": ("fades", ["-c:v", "mpeg2video", "-q:v", "3"], "`fades` as MPEG-2 in an MPEG program stream"),
    "blur_10fps.mp4": ("blur", ["-vf", "fps=10", "-c:v", "libx264"], "`blur` at 10 fps"),
}
QUICK_VIDEOS: dict[str, tuple[str, list[tuple[str, float, str]]]] = {
    "quick_cuts": ("hard cuts between 3 scenes of 2 s", [("bunny", 2, ""), ("carphone", 2, ""), ("fence", 2, "")]),
    "quick_fades": ("fade in from black, a white flash, 2 scenes of 3 s",
                    [("cars", 3, f"{_fade('in', 0, 1)},{_fade('out', 2.6, 0.4, 'white')}"),
                     ("digits_purple", 3, _fade("in", 0, 0.4, "white"))]),
}  # fmt: skip
SAMPLE_VIDEOS = {
    "bikes.mp4": "sample: street, 6 camera shots, 640x272",
    "carphone_pristine.mp4": "sample: a man talking in a car, 176x144",
    "bigbuckbunny.mp4": "sample: animated film, one shot, 1280x720",
}


@dataclass
class Video:
    name: str
    path: str
    what: str
    frames: int = 0  # as a sequential PyAV decode presents them
    fps: float = 0.0
    size: str = ""
    codec: str = ""
    md5: str = ""
    sampled: int = 0  # frames coverage is measured over


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


# ---------------------------------------------------------------------------------------------- footage


def ffmpeg(*args: str) -> None:
    done = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], capture_output=True, text=True,
                          timeout=1800)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args[-3:])}: {done.stderr.strip()[-500:]}")


NORMALISE = (f"fps={FPS},scale={SIZE[0]}:{SIZE[1]}:force_original_aspect_ratio=increase,crop={SIZE[0]}:{SIZE[1]},"
             "setsar=1,format=yuv420p")  # fmt: skip


def _made(path: Path, recipe: str) -> bool:
    """`path` exists and was made from `recipe` (kept beside it)."""
    mark = path.with_name(path.name + ".recipe")
    return path.exists() and mark.exists() and mark.read_text() == recipe


def _mark(path: Path, recipe: str) -> None:
    path.with_name(path.name + ".recipe").write_text(recipe)


def make_scene(name: str, folder: Path) -> Path:
    """The scene as a lossless (FFV1) 640x360 25 fps clip."""
    spec = SCENES[name]
    out = folder / f"{name}.mkv"
    recipe = f"{FOOTAGE_VERSION} {spec} {NORMALISE}"
    if _made(out, recipe):
        return out
    folder.mkdir(parents=True, exist_ok=True)
    if spec[0] == "video":
        _, src, start, seconds = spec
        span = ["-ss", f"{start:g}"] + (["-t", f"{seconds:g}"] if seconds else [])
        ffmpeg(*span, "-i", str(SAMPLES / src), "-an", "-vf", NORMALISE, "-c:v", "ffv1", str(out))
    elif spec[0] == "still":
        _, src, at = spec
        still = folder / f"{name}.png"
        ffmpeg("-ss", f"{at:g}", "-i", str(SAMPLES / src), "-frames:v", "1", str(still))
        ffmpeg("-loop", "1", "-framerate", str(FPS), "-t", "1", "-i", str(still), "-vf", NORMALISE, "-c:v", "ffv1",
               str(out))  # fmt: skip
    else:
        from pipeline.data.digit_timeline import render_timeline
        from pipeline.data.writer import write_video

        _, seed, index = spec
        frames, events = render_timeline(seed, index, seconds=30, size=96, fps=FPS)  # (T, 3, 96, 96)
        a, b = round(events[0]["start"] * FPS), round(events[0]["end"] * FPS)
        raw = write_video(folder / f"{name}_96.mkv", frames[a:b], fps=FPS, lossless=True)
        stretch = NORMALISE.replace(":force_original_aspect_ratio=increase", "")  # the canvas stays whole in view
        ffmpeg("-i", str(raw), "-vf", stretch, "-c:v", "ffv1", str(out))
    _mark(out, recipe)
    return out


def compose(out: Path, segments: list[tuple[str, float, str]], scenes: Path) -> Path:
    """The segments one after the other, each its scene looped to its length with its filters, H.264 (x264
    defaults)."""
    recipe = f"{FOOTAGE_VERSION} {segments} {[SCENES[s] for s, _, _ in segments]}"
    if _made(out, recipe):
        return out
    inputs, chains = [], []
    for i, (scene, seconds, filters) in enumerate(segments):
        inputs += ["-stream_loop", "-1", "-t", f"{seconds:g}", "-i", str(make_scene(scene, scenes))]
        chains.append(f"[{i}:v]setpts=PTS-STARTPTS{',' + filters if filters else ''}[s{i}]")
    joined = "".join(f"[s{i}]" for i in range(len(segments)))
    graph = ";".join([*chains, f"{joined}concat=n={len(segments)}:v=1:a=0,format=yuv420p[v]"])
    ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", str(out))
    _mark(out, recipe)
    return out


def make_footage(work: Path, quick: bool, only: set[str] | None = None) -> list[Video]:
    """The videos to judge on, made in `work` when their recipe changed; with `only`, those names (file stems)."""
    keep = (lambda name: Path(name).stem in only) if only else (lambda name: True)  # noqa: E731
    videos = [] if quick else [Video(n, str(SAMPLES / n), what) for n, what in SAMPLE_VIDEOS.items() if keep(n)]
    folder, scenes = work / "videos", work / "scenes"
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}
    for name, (what, segments) in (QUICK_VIDEOS if quick else VIDEOS).items():
        if keep(name) or any(src == name and keep(c) for c, (src, _, _) in ({} if quick else COPIES).items()):
            t0 = time.perf_counter()
            made[name] = compose(folder / f"{name}.mp4", segments, scenes)
            print(f"footage: {name}.mp4 ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
        if keep(name):
            videos.append(Video(f"{name}.mp4", str(made[name]), what))
    for name, (src, options, what) in ({} if quick else COPIES).items():
        if keep(name):
            out = folder / name
            recipe = f"{FOOTAGE_VERSION} {options} {made[src].with_name(made[src].name + '.recipe').read_text()}"
            if not _made(out, recipe):
                ffmpeg("-i", str(made[src]), *options, str(out))
                _mark(out, recipe)
            videos.append(Video(name, str(out), what))
    for v in videos:
        v.md5 = hashlib.md5(Path(v.path).read_bytes()).hexdigest()
    return videos


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
        "Made with the `ffmpeg` program from the sample videos and moving-digits renders (`bench_keyframes.py`: "
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
