"""What happens when in a long video: scored windows -> journal lines -> segments -> one record per video.

    decoding worker: VideoStart, WindowClips..., VideoEnd (pipeline.data.windows)
    -> the scorer's model: ScoredWindow (top-k labels and probabilities of one window)
    -> `WindowAssembler` (main process, or the Ray driver): each window appended to the windows journal
       as it comes, so a killed run goes on from the last journaled window; once a video's `VideoEnd`
       and all its windows are in (in any order: Ray does not keep it), its record with `windows` and
       `segments`
Segments are runs of consecutive windows whose best class is the same and scores at least `threshold`,
merged into (start, end, label, mean score), each window standing for the stride around its centre; they
are computed from the journaled (rounded) windows, so a resumed run and an uninterrupted one give the
same record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from pipeline.data.clips import FailedVideo
from pipeline.data.windows import VideoEnd, VideoStart
from pipeline.errors import display_path
from pipeline.inference.score import ScoredWindow, ScoreRecord


def segments(windows: Iterable[dict[str, Any]], threshold: float, stride: float | None = None) -> list[dict[str, Any]]:
    """Runs of consecutive windows (in time order) whose best label is the same and whose best probability
    is at least `threshold`: [{start, end, label, score}], score the run's mean best probability.

    With `stride`, a run spans the time its windows stand for: each window the `stride` around its centre
    (within the window; the video's first window from its start, its last one to its end). Overlapping
    windows would otherwise stretch every segment by the overlap at both ends: with 2-second windows every
    second, a window half over an action and half over what follows counts for both."""
    windows = list(windows)
    if not windows:
        return []
    first, last = windows[0], windows[-1]

    def span(w: dict[str, Any]) -> tuple[float, float]:
        if stride is None:
            return w["start"], w["end"]
        centre = (w["start"] + w["end"]) / 2
        lo = w["start"] if w is first else max(w["start"], centre - stride / 2)
        hi = w["end"] if w is last else min(w["end"], centre + stride / 2)
        return round(lo, 4), round(hi, 4)

    out: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []

    def close() -> None:
        if run:
            score = float(np.mean([w["probs"][0] for w in run]))
            out.append({"start": span(run[0])[0], "end": span(run[-1])[1], "label": run[0]["labels"][0],
                        "score": round(score, 6)})  # fmt: skip
            run.clear()

    for w in windows:
        if not w["labels"] or w["probs"][0] < threshold:
            close()
            continue
        if run and run[-1]["labels"][0] != w["labels"][0]:
            close()
        run.append(w)
    close()
    return out


class WindowAssembler:
    """Builds each windowed video's record from its parts, journaling every scored window on the way.

    `previous`: windows a killed run journaled, by the path as records show it (`display_path`);
    `journal`: appends one window line; `on_window(path, done, total)`: progress, after each window."""

    def __init__(
        self,
        threshold: float,
        *,
        stride: float | None = None,
        previous: dict[str, list[dict[str, Any]]] | None = None,
        journal: Callable[[dict[str, Any]], None] = lambda line: None,
        on_window: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.threshold, self.stride, self.journal, self.on_window = threshold, stride, journal, on_window
        self.windows: dict[str, dict[int, dict[str, Any]]] = {
            p: {w["index"]: w for w in ws} for p, ws in (previous or {}).items()
        }
        self.resumed = set(self.windows)  # videos a killed run had begun
        self.totals: dict[str, int] = {}
        self.ends: dict[str, VideoEnd] = {}

    def feed(self, parts: Iterable[Any]) -> Iterator[ScoreRecord]:
        """Records of the videos whose parts are complete, as they complete; a `ScoreRecord` (a video
        scored without windows) passes through."""
        for part in parts:
            if isinstance(part, ScoreRecord):
                yield part
                continue
            key = display_path(part.path)
            if isinstance(part, VideoStart):
                self.totals[key] = part.windows
            elif isinstance(part, ScoredWindow):
                self.journal({"path": key, **part.entry})
                got = self.windows.setdefault(key, {})
                got[part.entry["index"]] = part.entry
                if self.on_window is not None:
                    self.on_window(key, len(got), self.totals.get(key, len(got)))
            elif isinstance(part, VideoEnd):
                self.ends[key] = part
            elif isinstance(part, FailedVideo):
                yield self._failed(key, part)
                continue
            if (record := self._complete(key)) is not None:
                yield record

    def _complete(self, key: str) -> ScoreRecord | None:
        end = self.ends.get(key)
        got = self.windows.get(key, {})
        if end is None or len(got) < end.windows:
            return None
        del self.ends[key]
        self.totals.pop(key, None)
        windows = [got[i] for i in sorted(got)]
        del self.windows[key]
        rec = self._record(end.path, windows, backend=end.backend, frames=end.num_frames, fps=end.fps,
                           stopped=end.stopped)  # fmt: skip
        rec.codec_frames = None if key in self.resumed else end.codec_frames  # a resumed video's is this run's part
        return rec

    def _failed(self, key: str, failed: FailedVideo) -> ScoreRecord:
        """A video that failed: an error record, or, after some windows (a decoder that hung or died
        midway), a record of those windows saying why they stop."""
        got = self.windows.pop(key, {})
        self.ends.pop(key, None)
        self.totals.pop(key, None)
        if not got:
            return ScoreRecord(failed.path, "error", error=failed.reason)
        windows = [got[i] for i in sorted(got)]
        return self._record(failed.path, windows, backend=None, frames=None, fps=None, stopped=failed.reason)

    def _record(self, path: str, windows: list[dict[str, Any]], *, backend: str | None, frames: int | None,
                fps: float | None, stopped: str | None) -> ScoreRecord:  # fmt: skip
        shown = [{k: v for k, v in w.items() if k != "index"} for w in windows]
        rec = ScoreRecord(path, "ok", backend=backend, frames=frames, fps=None if fps is None else round(fps, 4),
                          duration=round(frames / fps, 4) if frames and fps else None, windows=shown,
                          segments=segments(windows, self.threshold, self.stride), stopped=stopped)  # fmt: skip
        if windows and "embedding" in windows[0]:
            mean = np.mean([w["embedding"] for w in windows], axis=0)  # (D',) the video's: mean of its windows'
            rec.embedding = [round(float(x), 6) for x in mean]
        return rec
