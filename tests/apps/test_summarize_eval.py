"""`vap summarize eval` on tiny h5 files in the ECCV16 layout, with F-scores worked out by hand.

Both videos: 20 frames, shots [0,1] [2,3] [4,19], one step per shot (picks 0, 2, 4), budget
floor(0.15 * 20) = 3 frames, so the knapsack keeps exactly one of the two 2-frame shots.
  video_1, users {0,1}, {2,3}, {0..3}; our scores keep shot 0: F = 1, 0, 2/3 -> avg 5/9, max 1.
    The random summarizer keeps shot 0 or shot 1, both give the same F: random = 5/9 (avg), 1 (max).
    gtscore ranks the steps as we do: tau = rho = 1.
  video_2, one user {0,1}: F = 1; random keeps shot 0 half the time: about 0.5. gtscore reversed: -1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.data.summary_h5 import SummaryVideo, write_summary_h5
from pipeline.models.summary import random_fscore

SHOTS = np.array([[0, 1], [2, 3], [4, 19]])
PICKS = np.array([0, 2, 4])


def _users(*frame_sets: list[int]) -> np.ndarray:
    u = np.zeros((len(frame_sets), 20))
    for i, frames in enumerate(frame_sets):
        u[i, frames] = 1
    return u


def _video(key: str, gtscore: list[float], users: np.ndarray) -> SummaryVideo:
    return SummaryVideo(
        key=key, features=np.zeros((3, 8)), gtscore=np.array(gtscore), user_summary=users,
        change_points=SHOTS, n_frame_per_seg=np.array([2, 2, 16]), n_frames=20, picks=PICKS,
    )  # fmt: skip


@pytest.fixture()
def files(tmp_path):
    videos = [
        _video("video_1", [0.8, 0.2, 0.4], _users([0, 1], [2, 3], [0, 1, 2, 3])),
        _video("video_2", [0.1, 0.9, 0.5], _users([0, 1])),
    ]
    tvsum = write_summary_h5(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5", videos)
    summe = write_summary_h5(tmp_path / "eccv16_dataset_summe_google_pool5.h5", videos)
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({"video_1": [0.9, 0.1, 0.5], "video_2": [0.9, 0.1, 0.5]}))
    return tvsum, summe, scores, tmp_path


def test_eval_tvsum_hand_worked(files, capsys):
    tvsum, _, scores, tmp = files
    out = tmp / "res" / "tvsum.json"
    args = ["summarize", "eval", str(tvsum), "--scores", str(scores), "--splits", "2", "--out", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert report["metric"] == "avg" and report["rank_reference"] == "gtscore"
    v1, v2 = report["videos"]
    assert v1["f_score"] == pytest.approx(5 / 9) and v1["random_f_score"] == pytest.approx(5 / 9)
    assert v1["ratio"] == pytest.approx(1.0)
    assert (v1["tau"], v1["rho"]) == pytest.approx((1.0, 1.0))
    assert v2["f_score"] == pytest.approx(1.0) and v2["random_f_score"] == pytest.approx(0.5, abs=0.15)
    assert v2["random_f_score"] == pytest.approx(random_fscore(SHOTS, 20, PICKS, _users([0, 1]), draws=100, seed=0))
    assert (v2["tau"], v2["rho"]) == pytest.approx((-1.0, -1.0))
    assert report["f_score"] == pytest.approx((5 / 9 + 1) / 2) and report["tau"] == pytest.approx(0.0)
    assert report["ratio"] == pytest.approx(report["f_score"] / report["random_f_score"])
    # two disjoint folds of one test video each
    assert sorted(k for f in report["folds"] for k in f["videos"]) == ["video_1", "video_2"]
    assert {v["fold"] for v in report["videos"]} == {0, 1}
    assert report["settings"] == {"metric": "avg", "splits": 2, "ratio": 0.15, "draws": 100, "seed": 0,
                                  "shot_value": "mean"}  # the protocol by default  # fmt: skip
    printed = capsys.readouterr().out
    assert "video_1" in printed and "55.6" in printed and "random F (%)" in printed and "mean" in printed


def test_eval_shot_value_sum_is_labelled_and_changes_the_choice(files, capsys):
    # --ratio 0.85: budget 17 frames holds shots 0 + 1 (4 frames) or shot 2 (16), not 0 + 2.
    # video_1 scores .9 .1 .5: mean-valued 0 + 1 (1.0 > .5) -> frames 0-3, F 2/3, 2/3, 1 -> avg 7/9;
    # sum-valued shot 2 (16 x .5 = 8 > 2 x .9 + 2 x .1 = 2) -> frames 4-19, no user frame: F 0.
    tvsum, _, scores, tmp = files
    base = ["summarize", "eval", str(tvsum), "--scores", str(scores), "--ratio", "0.85", "--draws", "20",
            "--splits", "2"]  # fmt: skip
    assert main([*base, "--out", str(tmp / "mean.json")]) == 0
    assert "NOT the protocol" not in capsys.readouterr().out
    assert main([*base, "--shot-value", "sum", "--out", str(tmp / "sum.json")]) == 0
    assert "sum-valued shots, NOT the protocol" in " ".join(capsys.readouterr().out.split())
    mean, total = (json.loads((tmp / f"{n}.json").read_text()) for n in ("mean", "sum"))
    assert mean["videos"][0]["f_score"] == pytest.approx(7 / 9) and total["videos"][0]["f_score"] == 0.0
    assert total["settings"]["shot_value"] == "sum"
    users = _users([0, 1], [2, 3], [0, 1, 2, 3])
    assert total["videos"][0]["random_f_score"] == pytest.approx(
        random_fscore(SHOTS, 20, PICKS, users, ratio=0.85, draws=20, seed=0, shot_value="sum")
    )  # the random summarizer goes through the same sum-valued knapsack
    assert total["videos"][0]["random_f_score"] != pytest.approx(mean["videos"][0]["random_f_score"])
    (tmp / "neg.json").write_text(json.dumps({"video_1": [0.9, -0.1, 0.5], "video_2": [0.9, 0.1, 0.5]}))
    assert main(["summarize", "eval", str(tvsum), "--scores", str(tmp / "neg.json"), "--shot-value", "sum",
                 "--splits", "2"]) != 0  # fmt: skip
    assert "sum-valued shots need scores >= 0" in capsys.readouterr().err


def test_eval_summe_takes_max_by_file_name(files):
    _, summe, scores, tmp = files
    out = tmp / "summe.json"
    assert main(["summarize", "eval", str(summe), "--scores", str(scores), "--splits", "2", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["metric"] == "max"
    assert [v["f_score"] for v in report["videos"]] == pytest.approx([1.0, 1.0])
    assert report["videos"][0]["random_f_score"] == pytest.approx(1.0)
    # --metric overrides the file name
    assert main(["summarize", "eval", str(summe), "--scores", str(scores), "--splits", "2", "--metric", "avg",
                 "--out", str(out)]) == 0  # fmt: skip
    assert json.loads(out.read_text())["videos"][0]["f_score"] == pytest.approx(5 / 9)


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"video_1": [0.9, 0.1, 0.5]}, "scores.json: no scores for video_2"),
        ({"video_1": [0.9, 0.1], "video_2": [1, 2, 3]}, "scores.json: video_1 has 2 scores, eccv16_dataset_tvsum"),
        ({"video_1": [1, 2, 3], "video_2": [1, 2, 3], "video_9": [1]}, "video_9 is not a video of eccv16"),
        ({"video_1": [1, "a", 3], "video_2": [1, 2, 3]}, "video_1 must be a list of numbers"),
        ([1, 2], "expected an object"),
    ],
)
def test_bad_scores_give_one_line_errors(files, capsys, scores, message):
    tvsum, _, path, _ = files
    path.write_text(json.dumps(scores))
    assert main(["summarize", "eval", str(tvsum), "--scores", str(path), "--splits", "2"]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("vap summarize: error:")


def test_other_bad_input(files, capsys, tmp_path):
    tvsum, _, scores, _ = files
    scores.write_text("{not json")
    assert main(["summarize", "eval", str(tvsum), "--scores", str(scores), "--splits", "2"]) == 1
    assert "not JSON" in capsys.readouterr().err
    other = tmp_path / "mine.h5"
    other.write_bytes(tvsum.read_bytes())
    assert main(["summarize", "eval", str(other), "--scores", str(scores)]) == 1
    assert "pass --metric avg or --metric max" in capsys.readouterr().err
    scores.write_text(json.dumps({"video_1": [1, 2, 3], "video_2": [1, 2, 3]}))
    assert main(["summarize", "eval", str(tvsum), "--scores", str(scores), "--splits", "5"]) == 1
    assert "--splits must be between 2 and the number of videos (2)" in capsys.readouterr().err


def test_out_is_written_atomically(files, monkeypatch):
    tvsum, _, scores, tmp = files
    out = tmp / "tvsum.json"
    out.write_text('{"old": true}')

    def die(fd):  # the writer is killed after its bytes went to the temp file, before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", die)
    assert main(["summarize", "eval", str(tvsum), "--scores", str(scores), "--splits", "2", "--out", str(out)]) == 130
    assert json.loads(out.read_text()) == {"old": True}
    assert [p.name for p in tmp.iterdir() if p.name.startswith(".tvsum")] == []


def test_help_and_forms(capsys):
    with pytest.raises(SystemExit) as e:
        main(["summarize", "eval", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--scores" in out and "--checkpoint" in out and "--metric {avg,max}" in out
    assert main(["summarize", "--help"]) == 0
    out = capsys.readouterr().out
    assert "vap summarize VIDEO|FOLDER ... --out DIR" in out and "examples:" in out
    assert "--method attention --checkpoint" in out and "vap summarize train" in out
    for form in ("train", "features"):
        with pytest.raises(SystemExit) as e:
            main(["summarize", form, "--help"])
        assert e.value.code == 0 and f"vap summarize {form}" in capsys.readouterr().out
    assert main(["summarize"]) == 2
    out = capsys.readouterr().out
    assert "vap summarize eval DATASET.h5" in out
    assert "vap summarize VIDEO|FOLDER" in out


def test_cli_as_a_user_runs_it(files):
    tvsum, _, scores, _ = files
    r = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "summarize", "eval", str(tvsum), "--scores", str(scores), "--splits",
         "2"], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "video_2" in r.stdout and "100.0" in r.stdout


def test_rank_correlation_uses_annotator_frame_scores_when_present():
    from pipeline.models.summary import evaluate_video

    video = _video("video_1", [0.1, 0.9, 0.5], _users([0, 1]))  # gtscore reversed: tau -1 against it
    ours = np.array([0.9, 0.1, 0.5])
    frames = np.repeat(ours, [2, 2, 16])  # step scores spread over their frames by picks
    video.user_scores = frames[None]  # the one annotator agrees with us frame by frame
    r = evaluate_video(video, ours, metric="avg")
    assert (r.tau, r.rho) == pytest.approx((1.0, 1.0))
    video.user_scores = np.stack([frames, -frames])  # one agrees, one reverses: mean 0
    assert evaluate_video(video, ours, metric="avg").tau == pytest.approx(0.0)
    video.user_scores = None
    assert evaluate_video(video, ours, metric="avg").tau == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="video_1: 2 scores, the file has 3 steps"):
        evaluate_video(video, ours[:2], metric="avg")
