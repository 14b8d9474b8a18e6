"""From sampled frames to the summary (pipeline/inference/summarize/selection.py and the shot cut of
video.py): the length budget in its three forms, content shots whatever the budget, one representative
good key frame per kept shot, no near-duplicates, shots that start on the keyframe at a cut."""

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.inference.summarize.selection import (
    DUPLICATE_COSINE,
    MIN_SHOTS,
    Budget,
    Shots,
    by_coverage,
    by_value,
    content_shots,
    longest_shot,
)
from pipeline.inference.summarize.video import shots_from_steps


def test_budget_takes_exactly_one_length():
    assert Budget(ratio=0.15).frames(1000, 25) == 150
    assert Budget(seconds=4).frames(1000, 25) == 100
    assert Budget(seconds=400).frames(1000, 25) == 1000  # never more than the video
    assert Budget(keyframes=5).frames(1000, 25) is None
    cases = [({}, "give one of"), ({"ratio": 0.1, "keyframes": 3}, "give one of"), ({"ratio": 1.5}, "--ratio"),
             ({"seconds": 0}, "--seconds"), ({"keyframes": 0}, "--keyframes")]  # fmt: skip
    for kw, message in cases:
        with pytest.raises(ConfigError, match=message):
            Budget(**kw)


def _steps(scenes: list[int], dim: int = 32, noise: float = 0.02, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features of sampled steps: one direction per scene, a little noise. (T, dim), (T,) scene labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(scenes)), scenes)
    x = np.eye(dim)[labels] + noise * rng.standard_normal((len(labels), dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def test_shots_follow_the_content_and_a_video_without_cuts_still_gets_several():
    x, labels = _steps([12, 6, 14])  # 16 s at 2 fps, three scenes
    segments = content_shots(x, 2.0)
    starts = set(segments[:, 0].tolist())
    assert {0, 12, 18} <= starts  # a cut at every scene change
    assert ((segments[:, 1] - segments[:, 0] + 1) <= longest_shot(len(x), 2.0)).all()
    still, _ = _steps([120])  # one minute of one scene: no cut at all
    shots = content_shots(still, 2.0)
    assert len(shots) >= MIN_SHOTS and (shots[:, 1] - shots[:, 0] + 1).max() <= 20  # 10 s at 2 fps


def test_shots_start_on_the_keyframe_in_the_gap_before_a_change_or_halfway_through_it():
    indices = np.arange(0, 100, 10)  # every 10th frame sampled
    segments = np.array([[0, 3], [4, 6], [7, 9]])  # changes found at sampled frames 40 and 70
    keyframes = np.array([0, 25, 33, 58, 71, 90])  # 33 is in (30, 40]; none in (60, 70]: halfway there
    shots = shots_from_steps(segments, indices, 100, keyframes)
    assert shots.tolist() == [[0, 32], [33, 65], [66, 99]]
    assert shots_from_steps(segments, indices, 100).tolist() == [[0, 35], [36, 65], [66, 99]]


def _shots(x: np.ndarray, segments: list[list[int]], scores=None, bad=None, step: int = 10) -> Shots:
    segments = np.array(segments)
    frames = np.stack([segments[:, 0] * step, segments[:, 1] * step + step - 1], axis=1)
    t = len(x)
    scores = np.ones(t) if scores is None else np.asarray(scores, float)
    bad = np.zeros(t, bool) if bad is None else np.asarray(bad)
    return Shots(features=x, scores=scores, bad=bad, segments=segments, frames=frames)


def test_key_frame_is_the_shots_most_representative_good_frame():
    rng = np.random.default_rng(1)
    centre = np.eye(8)[0]
    x = centre + 0.3 * rng.standard_normal((6, 8))
    x[3] = centre + 0.01 * rng.standard_normal(8)  # nearest the shot's mean
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    shots = _shots(x, [[0, 5]])
    assert shots.representative(0) == 3
    bad = np.zeros(6, bool)
    bad[3] = True  # a black frame there: the next best
    assert _shots(x, [[0, 5]], bad=bad).representative(0) not in (3,)


def test_n_key_frames_by_score_skip_bad_shots_and_duplicates():
    x, labels = _steps([4, 4, 4, 4])
    x[8:12] = x[0:4]  # scene 2 repeats scene 0: its key frame would duplicate
    scores = np.repeat([0.9, 0.2, 0.8, 0.5], 4)
    bad = np.zeros(16, bool)
    bad[12:] = True  # scene 3 is all black frames
    shots = _shots(x, [[0, 3], [4, 7], [8, 11], [12, 15]], scores=scores, bad=bad)
    chosen = by_value(shots, Budget(keyframes=3), np.arange(16) * 10, 160, 10.0)
    assert chosen.shots == [0, 1]  # 2 duplicates 0, 3 has no good frame: two distinct key frames, not three
    assert all(float(x[a] @ x[b]) <= DUPLICATE_COSINE for a in chosen.keysteps for b in chosen.keysteps if a != b)


def test_length_budget_by_score_and_by_coverage():
    x, _ = _steps([6, 6, 6, 6, 6])
    segments = [[0, 5], [6, 11], [12, 17], [18, 23], [24, 29]]
    scores = np.repeat([0.1, 0.9, 0.2, 0.8, 0.3], 6)
    shots = _shots(x, segments, scores=scores)  # 5 shots of 60 frames, 300 frames at 10 fps
    chosen = by_value(shots, Budget(ratio=0.4), np.arange(30) * 10, 300, 10.0)
    assert chosen.shots == [1, 3]  # the two best fill 120 frames
    assert sum(b - a + 1 for a, b in chosen.clips) <= 120
    covered = by_coverage(shots, Budget(ratio=0.4), np.arange(30) * 10, 300, 10.0)
    lengths = [b - a + 1 for a, b in covered.clips]
    assert sum(lengths) <= 120 and len(covered.shots) >= 3  # at most a third of the budget each: more scenes
    for k, (a, b), key in zip(covered.shots, covered.clips, covered.keysteps, strict=True):
        assert shots.frames[k][0] <= a <= key * 10 <= b <= shots.frames[k][1]  # the clip holds its key frame


def test_coverage_key_frames_one_per_scene():
    x, labels = _steps([20, 3, 9, 2, 6])
    segments = content_shots(x, 2.0)
    frames = shots_from_steps(segments, np.arange(len(x)) * 15, len(x) * 15)
    shots = Shots(features=x, scores=np.ones(len(x)), bad=np.zeros(len(x), bool), segments=segments, frames=frames)
    chosen = by_coverage(shots, Budget(keyframes=5), np.arange(len(x)) * 15, len(x) * 15, 30.0)
    assert sorted(labels[chosen.keysteps].tolist()) == [0, 1, 2, 3, 4]
