"""The files of one video's summary: summary.json, keyframes/*.jpg, contact_sheet.jpg, scores.png,
summary.mp4 (the selected shots, concatenated). summary.json is written last, to a temp name then
renamed, so its presence means the folder is complete (a rerun skips it)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipeline.data.backends import open_video
from pipeline.models.summary.video import VideoSummary

DONE = "summary.json"


def _timestamp(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m):02d}:{s:05.2f}"


def write_keyframes(summary: VideoSummary, out: Path, *, backend: str = "auto") -> list[Path]:
    """keyframes/NNN_mm-ss.ss.jpg (one per selected shot) and a contact sheet with timestamps."""
    from PIL import Image, ImageDraw

    kdir = out / "keyframes"
    kdir.mkdir(parents=True, exist_ok=True)
    if not summary.keyframes:
        return []
    with open_video(summary.path, backend=backend) as video:
        frames = video.get_frames(summary.keyframes)  # (K, C, H, W) uint8
    images, paths = [], []
    for i, (frame, index) in enumerate(zip(frames, summary.keyframes, strict=True)):
        img = Image.fromarray(frame.permute(1, 2, 0).numpy())
        stamp = _timestamp(index / summary.fps if summary.fps > 0 else 0.0)
        path = kdir / f"{i:03d}_{stamp.replace(':', '-')}.jpg"
        img.save(path, quality=90)
        images.append((img, stamp))
        paths.append(path)
    cols = min(4, len(images))
    tw = 320
    th = max(1, round(tw * images[0][0].height / images[0][0].width))
    sheet = Image.new("RGB", (cols * tw, -(-len(images) // cols) * (th + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (img, stamp) in enumerate(images):
        x, y = (i % cols) * tw, (i // cols) * (th + 18)
        sheet.paste(img.resize((tw, th)), (x, y))
        draw.text((x + 4, y + th + 3), stamp, fill="black")
    sheet.save(out / "contact_sheet.jpg", quality=90)
    return paths


def write_scores_plot(summary: VideoSummary, out: Path) -> Path:
    """Importance over time, shot boundaries as lines, selected shots shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fps = summary.fps if summary.fps > 0 else 1.0
    fig, ax = plt.subplots(figsize=(10, 3))
    for k in summary.selected:
        s, e = summary.shots[k]
        ax.axvspan(s / fps, (e + 1) / fps, color="tab:orange", alpha=0.3, lw=0)
    for s, _ in summary.shots[1:]:
        ax.axvline(s / fps, color="grey", lw=0.5)
    ax.plot(summary.timestamps, summary.scores, color="tab:blue", lw=1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("importance")
    ax.set_title(
        f"{Path(summary.path).name}: {summary.method}, {len(summary.selected)}/{len(summary.shots)} shots kept"
    )
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)
    return out / "scores.png"


def _selected_frames(summary: VideoSummary, backend: str, chunk: int = 32) -> Iterator[np.ndarray]:
    """The selected shots' frames, decoded `chunk` at a time so a long summary never sits in memory."""
    with open_video(summary.path, backend=backend) as video:
        for k in summary.selected:
            s, e = summary.shots[k]
            for a in range(s, e + 1, chunk):
                for frame in video.get_frames(list(range(a, min(a + chunk, e + 1)))):  # (C, H, W)
                    h, w = frame.shape[1] // 2 * 2, frame.shape[2] // 2 * 2  # yuv420p needs even sizes
                    yield frame[:, :h, :w]


def write_summary_video(summary: VideoSummary, out: Path, *, backend: str = "auto") -> Path | None:
    """summary.mp4: the selected shots in order, at the source frame rate, with the source's audio of
    the same time ranges when it has an audio stream (AAC)."""
    from pipeline.data.writer import write_video

    if not summary.selected:
        return None
    path = write_video(out / "summary.mp4", _selected_frames(summary, backend), fps=summary.fps or 25.0)
    audio = _selected_audio(summary)
    if audio is not None:
        _add_audio(path, *audio)
    return path


def _selected_audio(summary: VideoSummary) -> tuple[np.ndarray, int, str] | None:
    """(channels, samples) float32 of the selected shots' time ranges, the sample rate, the layout;
    None when the source has no audio. Decoded frame by frame, keeping only the selected samples."""
    import av

    fps = summary.fps if summary.fps > 0 else 25.0
    ranges = [(summary.shots[k][0] / fps, (summary.shots[k][1] + 1) / fps) for k in summary.selected]
    with av.open(summary.path) as src:
        if not src.streams.audio:
            return None
        stream = src.streams.audio[0]
        rate = stream.rate or stream.codec_context.sample_rate
        layout = stream.layout.name if stream.layout.nb_channels <= 2 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        pieces: list[list[np.ndarray]] = [[] for _ in ranges]
        position = None  # seconds of the next sample, from the first frame's timestamp on
        for frame in src.decode(stream):
            for f in resampler.resample(frame):
                data = f.to_ndarray()  # (channels, n) float32
                if position is None:
                    position = float(f.pts * f.time_base) if f.pts is not None else 0.0
                start = position
                position += data.shape[1] / rate
                for i, (a, b) in enumerate(ranges):
                    lo, hi = max(0, round((a - start) * rate)), min(data.shape[1], round((b - start) * rate))
                    if lo < hi:
                        pieces[i].append(data[:, lo:hi])
    chunks = [c for shot in pieces for c in shot]
    if not chunks:
        return None
    return np.concatenate(chunks, axis=1), rate, layout  # (channels, samples)


def _add_audio(path: Path, samples: np.ndarray, rate: int, layout: str) -> None:
    """Remux `path`'s video packets beside AAC-encoded `samples` (temp file, then rename)."""
    import av

    tmp = path.with_name(f".{path.name}.audio.mp4")
    with av.open(str(path)) as src, av.open(str(tmp), mode="w") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        aout = dst.add_stream("aac", rate=rate, layout=layout)
        for packet in src.demux(vin):
            if packet.dts is None:
                continue
            packet.stream = vout
            dst.mux(packet)
        size = aout.codec_context.frame_size or 1024
        for start in range(0, samples.shape[1], size):
            chunk = np.ascontiguousarray(samples[:, start : start + size])  # (channels, <= size)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate, frame.pts = rate, start
            for packet in aout.encode(frame):
                dst.mux(packet)
        for packet in aout.encode(None):
            dst.mux(packet)
    tmp.replace(path)


def write_summary_json(summary: VideoSummary, out: Path) -> Path:
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{DONE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(summary), f, indent=1)
        os.replace(tmp, out / DONE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out / DONE


def write_outputs(summary: VideoSummary, out: Path, *, backend: str = "auto", video: bool = True) -> None:
    """Every file; the time of each goes into `summary.seconds` (and so into summary.json)."""
    out.mkdir(parents=True, exist_ok=True)
    stages = [("keyframes + contact sheet", write_keyframes), ("scores.png", write_scores_plot)]
    if video:
        stages.append(("summary.mp4", write_summary_video))
    for name, write in stages:
        t0 = time.perf_counter()
        write(summary, out, **({"backend": backend} if write is not write_scores_plot else {}))
        summary.seconds[name] = round(time.perf_counter() - t0, 3)
    write_summary_json(summary, out)  # last: marks the folder complete
