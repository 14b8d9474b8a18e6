"""summary.mp4 with the source's audio: the cutting worked out by hand, and whole runs on videos the
`ffmpeg` program wrote (a stepped sine tone, no audio, other containers and codecs), checked by PyAV
and ffprobe."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch

from pipeline.inference.summarize import splice
from pipeline.inference.summarize.splice import _cut

# ---------------------------------------------------------------- cutting, by hand


def _chunks(n: int, size: int, start: int = 0) -> list[tuple[int, np.ndarray]]:
    """Mono chunks of `size` samples whose values are their own sample index, from `start` to n."""
    x = np.arange(start, n, dtype=np.float32)[None]  # (1, n - start)
    return [(start + i, x[:, i : i + size]) for i in range(0, x.shape[1], size)]


def _joined(chunks, bounds) -> np.ndarray:
    return np.concatenate(list(_cut(iter(chunks), bounds, channels=1)), axis=1)[0]


@pytest.mark.parametrize("size", [1, 3, 4, 7, 100])
def test_cut_keeps_exactly_the_samples_of_each_range(size):
    bounds = [(2, 5), (9, 10), (12, 20)]
    expected = [2, 3, 4, 9, 12, 13, 14, 15, 16, 17, 18, 19]
    assert _joined(_chunks(30, size), bounds).tolist() == expected


def test_cut_fills_what_the_audio_does_not_cover_with_silence():
    # Audio from sample 4 to 14: the first range starts before it, the last one runs past its end,
    # one lies wholly after it.
    got = _joined(_chunks(14, 3, start=4), [(2, 6), (8, 9), (12, 16), (20, 22)])
    assert got.tolist() == [0, 0, 4, 5, 8, 12, 13, 0, 0, 0, 0]


def test_cut_a_gap_inside_the_audio_is_silent():
    chunks = [(0, np.array([[1.0, 2.0, 3.0]])), (6, np.array([[7.0, 8.0, 9.0]]))]  # samples 3-5 missing
    assert _joined(chunks, [(1, 8)]).tolist() == [2, 3, 0, 0, 0, 7, 8]


def test_cut_stops_reading_after_the_last_range():
    read = []

    def chunks():
        for c in _chunks(1000, 10):
            read.append(c[0])
            yield c

    assert _joined(chunks(), [(5, 25)]).tolist() == list(range(5, 25))
    assert read == [0, 10, 20]


# ---------------------------------------------------------------- whole runs on ffmpeg's videos

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="needs the ffmpeg and ffprobe programs"
)
FPS = 10
# 8 s of test pattern; the tone's amplitude steps up every second (0.1, 0.2, ... 0.8), so a piece of the
# summary's audio tells which second of the source it came from.
VIDEO = ["-f", "lavfi", "-i", f"testsrc=duration=8:size=96x64:rate={FPS}"]
TONE = ["-f", "lavfi", "-i", "aevalsrc=0.1*(1+floor(t))*sin(2*PI*440*t):s={rate}:d=8"]


def _ffmpeg(path, *args: str):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(path)], check=True, timeout=60)
    return path


def _probe(path) -> dict[str, float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return {s["codec_type"]: float(s["duration"]) for s in json.loads(out)["streams"]}


def _summarize(src, out, monkeypatch):
    from pipeline.cli import main
    from pipeline.models.backbones import build_backbone

    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", lambda: build_backbone("tiny").eval())
    # Any scores do here (the audio is what is tested): fixed ones instead of a second of DR-DSN training.
    scores = lambda features, cfg: torch.rand(len(features), generator=torch.Generator().manual_seed(1))  # noqa: E731
    monkeypatch.setattr("pipeline.tasks.dr_dsn.dr_dsn_scores", scores)
    assert main(["summarize", str(src), "--out", str(out), "--ratio", "0.3"]) == 0
    folder = out / src.stem
    return json.loads((folder / "summary.json").read_text()), folder / "summary.mp4"


def _decode(path):
    import av

    with av.open(str(path)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return frames, None, None
        rate = c.streams.audio[0].rate
        audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)  # (channels, n)
    return frames, audio, rate


@needs_ffmpeg
@pytest.mark.parametrize(
    ("name", "codecs", "rate", "expected", "gain"),
    [
        ("tone.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], 44100, "aac 44100 Hz mono", 1.0),
        ("tone.mkv", ["-c:v", "mpeg4", "-c:a", "pcm_s16le"], 16000, "aac 16000 Hz mono", 1.0),  # unnamed layout
        pytest.param(
            "tone.webm",
            ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus", "-ac", "2"],
            48000,
            "aac 48000 Hz stereo",
            0.5**0.5,  # ffmpeg's -ac 2 spreads the mono tone at -3 dB
            marks=pytest.mark.slow,  # VP9 + Opus, stereo, the audio starting 7 ms before the video
        ),
    ],
)
def test_summary_mp4_carries_the_source_audio(tmp_path, monkeypatch, name, codecs, rate, expected, gain):
    tone = [TONE[0], TONE[1], TONE[2], TONE[3].format(rate=rate)]
    src = _ffmpeg(tmp_path / name, *VIDEO, *tone, *codecs, "-shortest")
    s, mp4 = _summarize(src, tmp_path / "out", monkeypatch)
    assert s["settings"]["summary_audio"] == expected
    kept = sum(s["shots"][k][1] - s["shots"][k][0] + 1 for k in s["selected"])
    frames, audio, out_rate = _decode(mp4)  # the file plays: PyAV decodes every frame of both streams
    assert frames == kept and out_rate == rate
    assert abs(audio.shape[1] / rate - kept / FPS) < 2 / FPS  # AAC adds at most one frame of padding
    probe = _probe(mp4)
    assert set(probe) == {"video", "audio"}
    assert probe["video"] == pytest.approx(kept / FPS, abs=1.5 / FPS)
    assert probe["audio"] == pytest.approx(probe["video"], abs=2 / FPS)
    # In step with the video: every quarter second of each selected shot sounds like that second of the
    # source (the tone's level says which second it is).
    pos, checked = 0.0, 0  # seconds of the summary before this shot
    for k in s["selected"]:
        a, b = s["shots"][k]
        for t in np.arange(a / FPS + 0.125, (b + 1) / FPS - 0.05, 0.25):  # source seconds, off the steps
            at = round((pos + t - a / FPS) * rate)  # the same instant in the summary's audio
            level = np.sqrt(2 * np.mean(audio[0, at - rate // 50 : at + rate // 50] ** 2))  # over 40 ms
            assert level == pytest.approx(gain * 0.1 * (1 + np.floor(t)), abs=0.02), (k, t)
            checked += 1
        pos += (b + 1 - a) / FPS
    assert checked >= 2
    assert sorted(p.name for p in mp4.parent.iterdir() if p.name.startswith(".")) == []  # no temp file left


@needs_ffmpeg
def test_summary_mp4_of_a_silent_video_has_no_audio(tmp_path, monkeypatch):
    src = _ffmpeg(tmp_path / "silent.mp4", *VIDEO, "-c:v", "libx264", "-pix_fmt", "yuv420p")
    s, mp4 = _summarize(src, tmp_path / "out", monkeypatch)
    kept = sum(s["shots"][k][1] - s["shots"][k][0] + 1 for k in s["selected"])
    frames, audio, _ = _decode(mp4)
    assert frames == kept and audio is None and s["settings"]["summary_audio"] == "none"
    assert set(_probe(mp4)) == {"video"}


@needs_ffmpeg
def test_undecodable_audio_leaves_the_video_and_says_so(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("Invalid data found when processing input")

    monkeypatch.setattr(splice, "mux_audio", broken)
    src = _ffmpeg(tmp_path / "tone.mp4", *VIDEO, *TONE[:3], TONE[3].format(rate=16000), "-c:a", "aac")
    s, mp4 = _summarize(src, tmp_path / "out", monkeypatch)
    assert s["settings"]["summary_audio"] == "dropped: Invalid data found when processing input"
    assert _decode(mp4)[1] is None and _decode(mp4)[0] > 0


@needs_ffmpeg
def test_a_failed_write_leaves_no_summary_mp4(tmp_path, monkeypatch):
    from pipeline.inference.summarize.outputs import write_outputs
    from pipeline.inference.summarize.video import summarize_video
    from pipeline.models.backbones import build_backbone

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    src = _ffmpeg(tmp_path / "tone.mp4", *VIDEO, *TONE[:3], TONE[3].format(rate=16000), "-c:a", "aac")
    s = summarize_video(src, backbone=build_backbone("tiny").eval(), ratio=0.3, method="rl", method_args={"epochs": 1})
    monkeypatch.setattr(splice, "_write", killed)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        write_outputs(s, out)
    assert not (out / "summary.mp4").exists() and not (out / "summary.json").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def _damage_audio_packet(path, which: float = 0.5):
    """Flip the bytes of one audio packet (the one `which` of the way through): a decoder refuses it."""
    import av

    with av.open(str(path)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.audio[0]) if p.size]
    pos, size = packets[int(len(packets) * which)]
    data = bytearray(path.read_bytes())
    data[pos : pos + size] = bytes(b ^ 0x5A for b in data[pos : pos + size])
    path.write_bytes(bytes(data))
    return size


@needs_ffmpeg
def test_one_damaged_audio_frame_costs_that_frame_not_the_audio(tmp_path, monkeypatch):
    """An AVI whose AC3 audio has one bad frame: summary.mp4 keeps the rest of the audio, in step."""
    tone = [TONE[0], TONE[1], TONE[2], TONE[3].format(rate=48000)]
    src = _ffmpeg(tmp_path / "ac3.avi", *VIDEO, *tone, "-c:v", "mpeg4", "-c:a", "ac3", "-b:a", "96k", "-shortest")
    _damage_audio_packet(src, which=0.05)  # early: read before any selected shot ends
    s, mp4 = _summarize(src, tmp_path / "out", monkeypatch)
    assert s["settings"]["summary_audio"] == "aac 48000 Hz mono"  # not "dropped: ..."
    kept = sum(s["shots"][k][1] - s["shots"][k][0] + 1 for k in s["selected"])
    frames, audio, rate = _decode(mp4)
    assert frames == kept and abs(audio.shape[1] / rate - kept / FPS) < 2 / FPS
    assert np.sqrt(np.mean(audio**2)) > 0.05  # the tone is there, not silence
