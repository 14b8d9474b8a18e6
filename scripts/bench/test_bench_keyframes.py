"""bench_keyframes.py: the metrics on frames made here, the baselines' pickers on a tiny video made with ffmpeg,
the footage maker's frame counts and the report on fake results."""

from __future__ import annotations

import json
import shutil
import subprocess

import bench_keyframes as bench
import keyframe_footage as footage
import numpy as np
import pytest
from PIL import Image, ImageFilter

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg program")
H, W = 180, bench.STATS_WIDTH


def texture(seed: int, colour: tuple[int, int, int], spread: int = 40) -> np.ndarray:
    """A sharp random texture around `colour`: 6-pixel blocks of random brightness, (H, W, 3) uint8."""
    blocks = np.random.default_rng(seed).integers(-spread, spread + 1, (H // 6 + 1, W // 6 + 1, 1))
    return np.clip(np.array(colour) + blocks.repeat(6, 0).repeat(6, 1)[:H, :W], 0, 255).astype(np.uint8)


def smooth(seed: int) -> np.ndarray:
    """A soft scene: a horizontal gradient with faint grain (little texture by nature, not blurred)."""
    ramp = np.linspace(60, 200, W)[None, :, None] * np.array([0.4, 0.8, 1.0])
    grain = np.random.default_rng(seed).normal(0, 1.5, (H, W, 1))
    return np.clip(ramp + grain, 0, 255).astype(np.uint8).repeat(H, 0)[:H]


def blurred(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(2)))


def stats(rgb: np.ndarray) -> bench.FrameStats:
    return bench.frame_stats(np.ascontiguousarray(rgb))


def test_bad_frames_black_washed_out_blank_blurred_and_a_sharp_frame_is_fine():
    samples = [stats(texture(s, (150, 90, 60))) for s in range(6)]
    sharp = stats(texture(99, (150, 90, 60)))
    assert bench.bad_reasons(sharp, samples) == []
    assert bench.bad_reasons(stats(blurred(texture(99, (150, 90, 60)))), samples) == ["blurred"]
    black = bench.bad_reasons(stats(np.zeros((H, W, 3), np.uint8)), samples)
    assert "black" in black and "blank" in black
    assert "washed out" in bench.bad_reasons(stats(np.full((H, W, 3), 250, np.uint8)), samples)
    assert bench.bad_reasons(stats(np.full((H, W, 3), 128, np.uint8)), samples)[0] == "blank"


def test_blur_is_judged_against_the_frames_own_scene(monkeypatch):
    """A soft scene cut between sharp ones is not blurred; a defocused frame of a sharp scene still is."""
    samples = [stats(texture(s, (150, 90, 60))) for s in range(5)] + [stats(smooth(s)) for s in range(5)]
    soft, defocused = stats(smooth(50)), stats(blurred(texture(50, (150, 90, 60))))
    assert bench.bad_reasons(soft, samples) == []
    assert bench.bad_reasons(defocused, samples) == ["blurred"]
    median = lambda frames: float(np.median([f.sharpness for f in frames]))  # noqa: E731
    assert bench.blur_floor(soft, samples) == pytest.approx(0.25 * median(samples[5:]))  # its own scene's
    assert bench.blur_floor(defocused, samples) == pytest.approx(0.25 * median(samples[:5]))
    monkeypatch.setattr(bench, "SAME_SCENE", 0.0)  # against every sampled frame: the soft scene counts as blurred
    assert bench.bad_reasons(soft, samples) == ["blurred"]


def test_coverage_is_lower_when_the_key_frames_include_every_scene_and_redundancy_of_twins_is_one():
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
    scenes = [[stats(texture(10 * c + s, colour, spread=30)) for s in range(4)] for c, colour in enumerate(colours)]
    samples = [f for scene in scenes for f in scene]
    every = [scenes[0][0], scenes[1][0], scenes[2][0]]
    misses = [scenes[0][0], scenes[0][1], scenes[1][0]]  # none of the blue scene
    assert bench.coverage(samples, every) < bench.coverage(samples, misses) - 0.2
    assert bench.coverage(samples, samples) == pytest.approx(0.0, abs=1e-9)
    assert bench.redundancy([scenes[0][0], scenes[0][0]]) == pytest.approx(1.0)
    assert bench.redundancy(every) < 0.5 < bench.redundancy(misses)
    assert bench.redundancy([scenes[0][0]]) is None
    assert bench.similarity(scenes[0][0], scenes[2][0]) < 0.2 and scenes[0][0].hist.sum() == pytest.approx(1.0)


def test_uniform_takes_the_middles_and_scenes_are_cut_or_split_to_n():
    assert bench.pick_uniform(100, 4) == [12, 37, 62, 87]
    scenes = [(0, 10), (10, 50), (50, 54), (54, 80), (80, 100)]
    assert bench.from_scenes(scenes, 3) == [30, 67, 90]  # the 3 longest, in time order
    assert bench.from_scenes(scenes, 5) == [5, 30, 52, 67, 90]
    assert bench.from_scenes([(0, 100)], 4) == [12, 37, 62, 87]  # the longest halved, again and again
    assert bench.from_scenes([(0, 60), (60, 100)], 3) == [15, 45, 80]
    assert bench.sample_grid(75, 25.0) == [6, 18, 31, 43, 56, 68]
    assert bench.sample_grid(10, 1.0) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_vap_command_asks_for_n_key_frames_and_the_method():
    default = bench.vap_command("v.mp4", bench.Path("o"), 5, "default")
    assert default[default.index("--keyframes") + 1] == "5" and "--no-video" in default and "--method" not in default
    rl = bench.vap_command("v.mp4", bench.Path("o"), 7, "rl")
    assert rl[rl.index("--method") + 1] == "rl" and rl[rl.index("--keyframes") + 1] == "7"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """3 s at 25 fps, three scenes of 1 s with hard cuts between them (frames 0-24, 25-49, 50-74)."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.mp4"
    sources = ["testsrc2=s=160x120:r=25:d=1", "smptebars=s=160x120:r=25:d=1", "mandelbrot=s=160x120:r=25"]
    inputs = [a for s in sources for a in ("-f", "lavfi", "-t", "1", "-i", s)]
    graph = "[0:v][1:v][2:v]concat=n=3:v=1:a=0,format=yuv420p[v]"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]",
                    "-c:v", "libx264", "-bf", "2", str(path)], check=True, timeout=120)  # fmt: skip
    return path


@needs_ffmpeg
def test_the_pickers_give_exactly_n_frames_in_range_on_a_tiny_video(tiny):
    pytest.importorskip("scenedetect")
    frames, fps, sampled = bench.read_frames(tiny)
    assert (frames, fps) == (75, 25.0) and sorted(sampled) == bench.sample_grid(75, 25.0)
    for n in (2, 3, 5):
        for indices in (bench.pick_uniform(frames, n), bench.pick_scenedetect(tiny, n)[0],
                        bench.pick_thumbnail(tiny, n, frames, fps)[0]):  # fmt: skip
            assert len(indices) == n and all(0 <= i < frames for i in indices), (n, indices)
    picked, info = bench.pick_scenedetect(tiny, 3)
    assert info["scenes"] == 3 and picked == [12, 37, 62]  # one cut at 25 and one at 50 found: each middle
    thumbs, info = bench.pick_thumbnail(tiny, 3, frames, fps)
    assert info["batch"] == 25 and all(25 * i <= t < 25 * (i + 1) for i, t in enumerate(thumbs))  # one per batch


@needs_ffmpeg
def test_read_frames_decodes_the_frames_asked_for_the_same_as_the_sample_grid(tiny):
    _, _, sampled = bench.read_frames(tiny)
    _, _, asked = bench.read_frames(tiny, [6, 40, 74])
    assert sorted(asked) == [6, 40, 74]
    assert np.array_equal(asked[6].hist, sampled[6].hist) and asked[6].sharpness == sampled[6].sharpness
    assert bench.similarity(asked[6], asked[40]) < 0.5  # testsrc2 against the colour bars


@needs_ffmpeg
def test_made_videos_have_the_frames_their_recipe_says(tmp_path):
    segments = [("fence", 1, footage._fade("in", 0, 0.4)), ("carphone", 1.2, footage._fade("out", 0.8, 0.4, "white"))]
    video = footage.compose(tmp_path / "two.mp4", segments, tmp_path / "scenes")
    frames, fps, sampled = bench.read_frames(video)
    assert (frames, fps) == (55, 25.0)
    assert sampled[6].luma > sampled[[*sampled][-1]].luma - 200  # decodes; the last sampled frame is near white
    assert "washed out" in bench.bad_reasons(bench.read_frames(video, [54])[2][54], list(sampled.values()))
    mtime = video.stat().st_mtime_ns
    assert footage.compose(tmp_path / "two.mp4", segments, tmp_path / "scenes").stat().st_mtime_ns == mtime  # kept


def fake_results() -> dict:
    def pick(method, indices, cov, red, bad=None, error=None):
        return {"method": method, "indices": indices, "seconds": 1.0, "error": error, "info": {"scenes": 4},
                "coverage": cov, "redundancy": red, "bad": bad or [[] for _ in indices]}  # fmt: skip

    def video(name, picks):
        v = {"name": name, "path": f"/x/{name}", "what": "made", "frames": 250, "fps": 25.0, "size": "640x360",
             "codec": "h264", "md5": "0", "sampled": 20}  # fmt: skip
        return {"video": v, "picks": {p["method"]: p for p in picks}}

    results = [
        video("a.mp4", [pick("uniform", [1, 2, 3], 0.30, 0.90), pick("scenedetect", [1, 2, 3], 0.25, 0.80),
                        pick("thumbnail", [1, 2, 3], 0.35, 0.70, [["black", "blank"], [], []]),
                        pick("vap:default", [4, 5, 6], 0.20, 0.60)]),
        video("b.mp4", [pick("uniform", [1, 2, 3], 0.10, 0.50), pick("scenedetect", [1, 2, 3], 0.15, 0.55),
                        pick("thumbnail", [1, 2, 3], 0.40, 0.50),
                        pick("vap:default", [4, 5], 0.12, 0.40, [["blurred"], []])]),
        video("c.mp4", [pick("uniform", [1, 2, 3], 0.20, 0.70), pick("scenedetect", [1, 2, 3], 0.30, 0.75),
                        pick("thumbnail", [1, 2, 3], 0.30, 0.50),
                        pick("vap:default", [], None, None, error="RuntimeError: boom"),
                        pick("vap:rl", [], None, None, error="RuntimeError: unknown method")]),
    ]  # fmt: skip
    results[0]["picks"]["vap:rl"] = pick("vap:rl", [], None, None, error="RuntimeError: unknown method")
    results[1]["picks"]["vap:rl"] = pick("vap:rl", [], None, None, error="RuntimeError: unknown method")
    return results


def test_summary_counts_wins_bad_frames_and_redundancy_against_uniform():
    s = bench.summarize(fake_results(), ["default", "rl"])
    ours = s["goals"]["vap:default"]
    assert ours["coverage_beats"] == {"uniform": {"wins": 1, "videos": 2}, "scenedetect": {"wins": 2, "videos": 2},
                                      "thumbnail": {"wins": 2, "videos": 2}}  # fmt: skip
    assert not ours["coverage_goal"] and not ours["zero_bad_frames"] and not ours["met"]  # 1 of 2 is not most
    assert ours["redundancy"] == {"no_higher": 2, "videos": 2, "mean": 0.5, "uniform_mean": 0.7}
    assert ours["redundancy_goal"]
    p = s["pooled"]
    assert (p["vap:default"]["failed"], p["vap:default"]["bad_frames"], p["vap:default"]["key_frames"]) == (1, 1, 5)
    assert p["thumbnail"]["bad_reasons"] == {"black": 1, "washed out": 0, "blank": 1, "blurred": 0}
    assert p["uniform"]["coverage"] == 0.2 and p["vap:rl"]["videos"] == 0
    assert not s["goals"]["vap:rl"]["met"]


def test_report_writes_the_tables_and_the_json(tmp_path):
    results = fake_results()
    saved = {"config": {"name": "kf", "keyframes": 3, "methods": ["default", "rl"], "scenedetect": "0.7.2"},
             "provenance": {"command": "python scripts/bench/bench_keyframes.py --quick", "machine": "m", "date": "d"},
             "results": results, "skipped": [{"video": "d.mp4", "error": "InvalidDataError: x"}],
             "summary": bench.summarize(results, ["default", "rl"])}  # fmt: skip
    bench.write_report(saved, tmp_path)
    md = (tmp_path / "kf.md").read_text()
    assert md.startswith("# Key frames") and "Command: `python scripts/bench/bench_keyframes.py --quick`" in md
    assert "| `vap summarize` | 1 of 2 | 2 of 2 | 2 of 2 | **no** | **no** | 0.500 vs 0.700; no higher on 2 of 2" in md
    assert "| a.mp4 | 0.300 | 0.250 | 0.350 | **0.200** | failed |" in md  # coverage, best in bold
    assert "| b.mp4 | **0.100** | 0.150 | 0.400 | 0.120 (2 frames) | failed |" in md
    assert "| a.mp4 | 0 | 0 | 1 (black, blank) | 0 | failed |" in md
    assert "| `vap summarize --method rl` | failed on every video |" in md
    assert "- `vap summarize` on c.mp4: `RuntimeError: boom`" in md and "- d.mp4 skipped: `InvalidDataError: x`" in md
    assert json.loads((tmp_path / "kf.json").read_text())["summary"]["goals"]["vap:default"]["met"] is False


@pytest.mark.slow
@needs_ffmpeg
def test_quick_run_end_to_end(tmp_path):
    pytest.importorskip("scenedetect")
    saved = bench.main(["--quick", "--work", str(tmp_path / "w"), "--out", str(tmp_path / "r")])
    assert [r["video"]["name"] for r in saved["results"]] == ["quick_cuts.mp4", "quick_fades.mp4"]
    for r in saved["results"]:
        for m in ("uniform", "scenedetect", "thumbnail"):
            assert len(r["picks"][m]["indices"]) == 3 and r["picks"][m]["coverage"] is not None
    assert (tmp_path / "r" / "keyframes_quick.md").exists()
