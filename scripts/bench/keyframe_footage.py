"""The footage bench_keyframes.py judges key frames on, made reproducibly with the `ffmpeg` program from what
is offline: the sample videos (datasets/samples) and videos cut together from them and from moving-digits
renders (hard cuts, fades through black and white, a static camera, scenes that come back, defocused and dark
stretches, and copies in the containers users bring). Made once in a work folder; a recipe's change makes
its video again."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "datasets" / "samples"

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
