"""Built-in data under DDP and after a killed run: only local rank 0 makes it, the others wait for its
completion marker; a half-written folder is regenerated, not trusted because `train.txt` exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pipeline.data.datamodule import VideoDataModule

TINY = {"num_train": 6, "num_val": 3, "num_test": 3}


def datamodule(root: Path) -> VideoDataModule:
    md = root / "md"
    return VideoDataModule(train=str(md / "train.txt"), val=str(md / "val.txt"), make="moving-digits",
                           make_args=TINY, num_workers=0, backend="pyav")  # fmt: skip


def listed_videos(md: Path) -> list[Path]:
    return [md / line.rsplit(" ", 1)[0] for line in (md / "train.txt").read_text().splitlines() if line.strip()]


def test_a_half_written_folder_is_regenerated(tmp_path):
    datamodule(tmp_path).read("train")
    md = tmp_path / "md"
    videos = listed_videos(md)
    assert len(videos) == 6 and all(v.is_file() for v in videos)
    # a run killed mid-way: the manifest says unfinished, a video is missing, train.txt is still there
    manifest = json.loads((md / "manifest.json").read_text())
    (md / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    videos[-1].unlink()
    ann = datamodule(tmp_path).read("train")
    assert len(ann.records) == 6 and all(r.path.is_file() for r in ann.records)
    assert json.loads((md / "manifest.json").read_text())["complete"] is True


SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from data.test_prepare_data import datamodule
print("imported", flush=True)
print(datamodule(Path({root!r})).class_names, flush=True)
"""


def test_other_ranks_wait_for_rank_zero(tmp_path):
    tests = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "LOCAL_RANK": "1"}
    code = SCRIPT.format(tests=tests, root=str(tmp_path))
    rank1 = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert rank1.stdout.readline().strip() == "imported"
        time.sleep(3)  # long enough for a rank that generates to have written its manifest
        assert rank1.poll() is None, "rank 1 did not wait"
        assert not (tmp_path / "md" / "manifest.json").exists(), "rank 1 made the data itself"
        names = datamodule(tmp_path).class_names  # rank 0 makes the data, then writes the marker
        out, _ = rank1.communicate(timeout=120)
    finally:
        rank1.kill()
    assert rank1.returncode == 0 and str(names) in out
