"""The long-video glimpse agent end to end, as a user runs it: `vap data make moving-digits-long`, the two
`vap train` steps from the shipped configs, a standalone checkpoint, and `vap score` records that say
what the agent looked at and what the codec decoded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.cli import main
from pipeline.data.long_digits import CLASSES, FPS, SAMPLES, load_footage, long_video, render
from pipeline.models.checkpoint import load_any
from pipeline.models.long_glimpse import LongGlimpseModel

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = ["--num-train", "6", "--num-val", "3", "--num-test", "3", "--set", "train_seconds=[10,12]",
        "--set", "test_seconds=[10,14]", "--set", "train_size=64x36", "--set", "test_sizes=[128x72]",
        "--set", "clip_size=64x36", "--set", "num_train_clips=22", "--set", "num_val_clips=11"]  # fmt: skip


def test_an_event_is_drawn_only_inside_its_time_and_the_same_at_every_size() -> None:
    footage = load_footage(SAMPLES, 16 / 9)
    _, event = long_video(0, "test_128x72", 1, footage, (128, 72), (10, 12))
    _, same = long_video(0, "test_64x36", 1, footage, (64, 36), (10, 12))
    assert (same.start, same.end, same.label) == (event.start, event.end, event.label)
    assert event.start >= 2 * FPS and 3 * FPS <= event.end - event.start <= 5 * FPS
    total = event.end + 2 * FPS
    drawn = torch.stack(list(render(np.random.default_rng(5), footage, total, (128, 72), event)))  # (T, 3, H, W)
    plain = torch.stack(list(render(np.random.default_rng(5), footage, total, (128, 72), None)))
    changed = (drawn != plain).flatten(1).any(1)  # (T,)
    assert changed[event.start : event.end].all() and not changed[: event.start].any()
    assert not changed[event.end :].any()


@pytest.fixture(scope="module")
def long_run(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("long_agent")
    data = root / "data"
    assert main(["data", "make", "moving-digits-long", "--out", str(data), *TINY]) == 0
    runs = root / "runs"
    common = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--data.num_workers", "0",
              "--data.make", "null", "--trainer.default_root_dir"]  # fmt: skip
    assert main(["train", "--config", str(CONFIGS / "moving_digits_long_clips.yaml"),
                 "--data.train", str(data / "clips_train.txt"), "--data.val", str(data / "clips_val.txt"),
                 "--data.class_names_file", str(data / "clip_classes.txt"), "--trainer.max_epochs", "1",
                 "--model.backbone", "tiny", "--model.weights", "none",
                 *common, str(runs / "clips")]) == 0  # fmt: skip
    classifier = runs / "clips" / "checkpoints" / "last.ckpt"
    assert main(["train", "--config", str(CONFIGS / "moving_digits_long_glimpse.yaml"),
                 "--model.features_from", str(classifier), "--data.train", str(data / "train.txt"),
                 "--data.val", str(data / "val.txt"), "--trainer.max_epochs", "2", "--model.max_glimpses", "3",
                 *common, str(runs / "agent")]) == 0  # fmt: skip
    return {"data": data, "classifier": classifier, "agent": runs / "agent" / "checkpoints" / "last.ckpt"}


def test_the_maker_writes_lists_truth_and_videos_of_both_kinds(long_run) -> None:
    data = long_run["data"]
    truth = json.loads((data / "truth.json").read_text())
    assert set(truth) == {"train", "val", "test_128x72"}
    lines = (data / "test_128x72.txt").read_text().splitlines()
    assert len(lines) == 3
    for line in lines:
        rel, label = line.rsplit(" ", 1)
        event = truth["test_128x72"][Path(rel).name]
        assert CLASSES[int(label)] == event["label"] and 0 < event["start"] < event["end"] <= 14
        assert (data / rel).is_file()
    assert len((data / "clips_train.txt").read_text().splitlines()) == 22


def test_the_checkpoint_stands_alone_and_scores_records_what_was_decoded(long_run, tmp_path) -> None:
    raw = torch.load(long_run["agent"], map_location="cpu", weights_only=True)
    assert raw["vap"]["task"] == "long_glimpse" and raw["vap"]["preprocessing"]["step_seconds"] == 1.0
    model, meta = load_any(long_run["agent"])
    assert isinstance(model, LongGlimpseModel) and meta.class_names == list(CLASSES)
    data = long_run["data"]
    videos = sorted((data / "videos" / "test_128x72").glob("*.mp4"))
    broken = tmp_path / "broken video.mp4"
    broken.write_bytes(videos[0].read_bytes()[:3000])
    out = tmp_path / "scores.jsonl"
    assert main(["score", "--checkpoint", str(long_run["agent"]), *map(str, videos), str(broken),
                 "--out", str(out), "--workers", "1"]) == 0  # fmt: skip
    records = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["broken video.mp4"]["status"] == "error" and "\n" not in records["broken video.mp4"]["error"]
    for v in videos:
        r = records[v.name]
        assert r["status"] == "ok" and r["labels"][0] in CLASSES
        glimpses = r["glimpse_frames"]
        assert 1 <= len(glimpses) <= 3 and len(set(glimpses)) == len(glimpses)
        assert r["frames_decoded"] > 8 * len(glimpses)  # the keyframes, then 8 frames per glimpse
        assert r["frames_decoded"] <= r["codec_frames"]
        assert set(r["seconds"]) == {"first_look", "second_look", "glimpse_decode", "model"}
    again = tmp_path / "again.jsonl"
    assert main(["score", "--checkpoint", str(long_run["agent"]), str(videos[0]), "--out", str(again)]) == 0
    assert json.loads(again.read_text())["probs"] == records[videos[0].name]["probs"]  # deterministic


def test_the_second_look_reads_one_reference_frame_per_slot_only_where_the_rule_says(long_run, tmp_path) -> None:
    video = sorted((long_run["data"] / "videos" / "test_128x72").glob("*.mp4"))[0]
    raw = torch.load(long_run["agent"], map_location="cpu", weights_only=True)
    rule = raw["vap"]["agent"]["args"]["second_look"]
    assert rule["empty"] == [raw["vap"]["clip_classes"].index("background")] and rule["classes"] == 11
    runs = {}
    for name, second in (("off", None), ("always", rule | {"below": 2.0, "sure": 2.0})):
        raw["vap"]["agent"]["args"]["second_look"] = second  # always: every keyframe shows too little, never sure
        raw["vap"]["agent"]["args"]["halt_on_sight"] = second is not None  # it needs the empty class
        ckpt = tmp_path / f"{name}.ckpt"
        torch.save(raw, ckpt)
        out = tmp_path / f"{name}.jsonl"
        assert main(["score", "--checkpoint", str(ckpt), str(video), "--out", str(out)]) == 0
        runs[name] = json.loads(out.read_text())
    off, always = runs["off"], runs["always"]
    slots = int((always["frames"] - 24) // 25) + 1  # one per second, for clips of 8 frames 3 apart
    assert off["seconds"]["second_look"] == 0 and always["seconds"]["second_look"] > 0
    glimpsed = 8 * len(always["glimpse_frames"])
    assert always["frames_decoded"] - glimpsed - (off["frames_decoded"] - 8 * len(off["glimpse_frames"])) == slots
    assert off["codec_frames"] < off["frames"] / 2 < always["codec_frames"] - glimpsed < off["frames"]


def test_in_windows_the_agent_scores_as_its_classifier_where_it_looks_and_skips_the_rest(long_run, tmp_path,
                                                                                          capsys) -> None:  # fmt: skip
    videos = sorted((long_run["data"] / "videos" / "test_128x72").glob("*.mp4"))
    empty = "background"
    runs = {}
    for name, extra in (("agent", []), ("classifier", ["--backend", "pyav"])):
        out = tmp_path / f"{name}.jsonl"
        assert main(["score", "--checkpoint", str(long_run[name]), *map(str, videos), "--out", str(out),
                     "--window", "2", "--all-scores", "--workers", "1", *extra]) == 0  # fmt: skip
        runs[name] = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    for v in videos:
        agent, every = runs["agent"][v.name], runs["classifier"][v.name]
        assert agent["status"] == "ok" and agent["codec_frames"] > 0 and every["codec_frames"] > 0
        assert [(w["start"], w["end"]) for w in agent["windows"]] == [(w["start"], w["end"]) for w in every["windows"]]
        scored = [i for i, w in enumerate(agent["windows"]) if not w.get("skipped")]
        for i, w in enumerate(agent["windows"]):
            if w.get("skipped"):
                assert w["labels"] == [] and w["probs"] == []
                continue
            # a window it scores, it scores exactly as its classifier scoring every window does
            assert w["labels"] == every["windows"][i]["labels"]
            assert w["scores"] == pytest.approx(every["windows"][i]["scores"], abs=1e-4)
            if w["labels"][0] != empty:  # something there: both neighbours are looked at too
                assert {i - 1, i + 1} & set(range(len(agent["windows"]))) <= set(scored)
        found = {(s["label"], s["start"]) for s in agent["segments"]}
        assert found <= {(s["label"], s["start"]) for s in every["segments"]} | {(empty, s["start"]) for s in
                                                                                agent["segments"]}  # fmt: skip
    # a classifier that sees nothing anywhere: every window is judged empty and never decoded
    raw = torch.load(long_run["agent"], map_location="cpu", weights_only=True)
    bias = raw["state_dict"]["model.classifier.head.fc.bias"]
    bias[raw["vap"]["clip_classes"].index(empty)] += 100.0
    calm = tmp_path / "calm.ckpt"
    torch.save(raw, calm)
    for ckpt, extra in ((calm, ["--window", "2"]), (calm, [])):
        out = tmp_path / f"calm{len(extra)}.jsonl"
        assert main(["score", "--checkpoint", str(ckpt), str(videos[0]), "--out", str(out), *extra]) == 0
        runs[len(extra)] = json.loads(out.read_text())
    skipping, plain = runs[2], runs[0]
    assert all(w["skipped"] for w in skipping["windows"]) and skipping["segments"] == []
    assert skipping["codec_frames"] == plain["codec_frames"]  # the first look and the glimpses alone
    assert plain["codec_frames"] < runs["classifier"][videos[0].name]["codec_frames"]
    # an agent whose classifier has no class for "nothing happens" cannot judge a window empty
    raw["vap"]["clip_classes"] = list(CLASSES)
    blind = tmp_path / "blind.ckpt"
    torch.save(raw, blind)
    capsys.readouterr()
    assert main(["score", "--checkpoint", str(blind), str(videos[0]), "--out", str(tmp_path / "b.jsonl"),
                 "--window", "2"]) != 0  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "cannot judge a window empty" in err and "Traceback" not in err


def test_a_killed_make_goes_on_where_it_stopped_and_remakes_the_same_bytes(tmp_path) -> None:
    from pipeline.data.long_digits import make_long

    args = {"num_train": 2, "num_val": 1, "num_test": 1, "train_seconds": (10, 11), "test_seconds": (10, 11),
            "train_size": "64x36", "test_sizes": ("64x36",), "clip_size": "64x36", "num_train_clips": 3,
            "num_val_clips": 2, "progress": False}  # fmt: skip
    out = make_long(tmp_path / "d", **args)
    manifest = json.loads((out / "manifest.json").read_text())
    lost, kept = out / "videos" / "train" / "long_001.mp4", out / "videos" / "train" / "long_000.mp4"
    before, mtime = lost.read_bytes(), kept.stat().st_mtime_ns
    lost.unlink()  # killed while writing it: the old file never made it into place
    (out / "manifest.json").unlink()
    (out / ".making.json").write_text(json.dumps(manifest) + "\n")
    make_long(out, **args)
    assert lost.read_bytes() == before  # deterministic: the same bytes again
    assert kept.stat().st_mtime_ns == mtime  # what was done is not done twice
    assert json.loads((out / "manifest.json").read_text()) == manifest and not (out / ".making.json").exists()
    assert not list(out.rglob(".part-*"))
    with pytest.raises(FileExistsError):  # a folder this maker did not start is never written into
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "mine.txt").write_text("x")
        make_long(tmp_path / "other", **args)


def test_a_splits_list_is_written_once_its_videos_are_made_before_the_rest(tmp_path) -> None:
    import shutil

    from pipeline.data.long_digits import make_long

    args = {"num_train": 2, "num_val": 1, "num_test": 1, "train_seconds": (10, 11), "test_seconds": (10, 11),
            "train_size": "64x36", "test_sizes": ("64x36",), "clip_size": "64x36", "num_train_clips": 3,
            "num_val_clips": 2, "progress": False}  # fmt: skip
    out = make_long(tmp_path / "d", **args)
    lists = {split: (out / f"{split}.txt").read_text() for split in ("train", "val", "test_64x36")}
    (out / ".making.json").write_text((out / "manifest.json").read_text())
    (out / "manifest.json").unlink()
    for split in lists:
        (out / f"{split}.txt").unlink()
    shutil.rmtree(out / "videos" / "test_64x36")
    (out / "videos" / "test_64x36").write_text("in the way: the test video cannot be written")
    with pytest.raises(OSError):
        make_long(out, **args)
    # step 2 can train while the test videos are still being made
    assert (out / "train.txt").read_text() == lists["train"] and (out / "val.txt").read_text() == lists["val"]
    assert not (out / "test_64x36.txt").exists() and not (out / "manifest.json").exists()
