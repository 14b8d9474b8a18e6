"""`vap summarize` over a collection where `vap score` runs: --shard parts, torchrun ranks and Ray Data
give each video's summary once, the same as one process; a rerun skips them; a folder another run is
writing is left to it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pipeline.cli import main
from pipeline.data.writer import write_video
from pipeline.models.backbones import build_backbone


def _clip(seed: int, frames: int = 30) -> torch.Tensor:
    """Two flat scenes per video, colours from the seed: (T, C, H, W) uint8 at 64x96."""
    g = torch.Generator().manual_seed(seed)
    a, b = (torch.randint(30, 220, (3, 1, 1), generator=g, dtype=torch.uint8) for _ in range(2))
    noise = torch.randint(0, 30, (frames, 3, 64, 96), generator=g, dtype=torch.uint8)
    base = torch.cat([a.expand(frames // 2, 3, 64, 96), b.expand(frames - frames // 2, 3, 64, 96)])
    return (base.int() + noise).clamp(0, 255).to(torch.uint8)


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "in"
    for i, name in enumerate(["a.mp4", "b.mp4", "sub/c.mp4", "d e.mp4", "f.mp4"]):
        write_video(d / name, _clip(i), fps=10)
    return d


def _summaries(out: Path) -> dict[str, list[int]]:
    return {p.parent.relative_to(out).as_posix(): json.loads(p.read_text())["keyframes"]
            for p in sorted(out.rglob("summary.json"))}  # fmt: skip


@pytest.fixture()
def tiny(monkeypatch):
    monkeypatch.setattr("pipeline.inference.summarize.video.default_backbone", lambda: _tiny())


def _tiny() -> torch.nn.Module:
    torch.manual_seed(0)  # the same features in every process
    return build_backbone("tiny").eval()


def test_shards_summarize_every_video_once_and_a_rerun_skips_them(folder, tmp_path, tiny, capsys):
    one, parts = tmp_path / "one", tmp_path / "parts"
    assert main(["summarize", str(folder), "--out", str(one), "--no-video"]) == 0
    for shard in ("0/2", "1/2"):
        assert main(["summarize", str(folder), "--out", str(parts), "--no-video", "--shard", shard]) == 0
    assert _summaries(parts) == _summaries(one) and len(_summaries(one)) == 5
    stamps = {p: p.stat().st_mtime_ns for p in parts.rglob("summary.json")}
    capsys.readouterr()
    assert main(["summarize", str(folder), "--out", str(parts), "--no-video"]) == 0
    assert {p: p.stat().st_mtime_ns for p in parts.rglob("summary.json")} == stamps  # nothing written twice
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert [c.strip() for c in last.split("│")] == ["5", "0", "0", "5"]  # videos, ok, error, skipped
    assert main(["summarize", str(folder), "--out", str(parts), "--shard", "2/2"]) != 0
    assert "--shard 2/2: I must be in 0..N-1" in capsys.readouterr().err


def test_a_folder_another_run_is_writing_is_left_to_it(folder, tmp_path, tiny, capsys):
    from filelock import FileLock

    from pipeline.inference.summarize.collection import LOCK

    out = tmp_path / "out"
    busy = out / "in" / "b"
    busy.mkdir(parents=True)
    with FileLock(str(busy / LOCK)):
        assert main(["summarize", str(folder), "--out", str(out), "--no-video"]) == 0
    assert not (busy / "summary.json").exists() and len(_summaries(out)) == 4
    assert "another run" in capsys.readouterr().out
    assert main(["summarize", str(folder), "--out", str(out), "--no-video"]) == 0  # its turn now
    assert (busy / "summary.json").exists()


@pytest.mark.timeout(600)
def test_two_processes_under_torchrun_give_the_summaries_of_one(folder, tmp_path, tiny):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["summarize", str(folder), "--out", str(one), "--no-video"]) == 0
    # the ranks build the tiny backbone too, seeded alike: the features of this process
    code = ("import sys, torch; import pipeline.inference.summarize.video as v; "
            "from pipeline.models.backbones import build_backbone; "
            "v.default_backbone = lambda: (torch.manual_seed(0), build_backbone('tiny').eval())[1]; "
            "from pipeline.cli import main; sys.exit(main(sys.argv[1:]))")  # fmt: skip
    script = tmp_path / "run.py"
    script.write_text(code)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29547",
                str(script), "summarize", str(folder), "--out", str(two), "--no-video"]  # fmt: skip
    done = subprocess.run(torchrun, capture_output=True, text=True, timeout=500, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    assert _summaries(two) == _summaries(one) and len(_summaries(two)) == 5
    assert "(rank 0)" in done.stdout and "(rank 1)" in done.stdout  # each rank's totals


@pytest.mark.timeout(600)
def test_ray_engine_gives_the_summaries_of_the_local_engine_and_resumes(folder, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    weights = Path(torch.hub.get_dir()) / "checkpoints" / "mobilenet_v2-b0353104.pth"
    if not weights.exists():
        pytest.skip("needs MobileNetV2's ImageNet weights (scripts/setup.sh): the actors load the product's model")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(["summarize", str(folder), "--out", str(local), "--no-video"]) == 1  # the broken one
    monkeypatch.setenv("RAY_worker_niceness", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        args = ["summarize", str(folder), "--out", str(remote), "--no-video", "--engine", "ray", "--workers", "2"]
        assert main(args) == 1
        stamps = {p: p.stat().st_mtime_ns for p in remote.rglob("summary.json")}
        assert main(args) == 1  # the broken video again; the others skipped
        assert {p: p.stat().st_mtime_ns for p in remote.rglob("summary.json")} == stamps
    finally:
        ray.shutdown()
    assert _summaries(remote) == _summaries(local) and len(_summaries(remote)) == 5
