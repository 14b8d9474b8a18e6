"""Features kept on disk between agent training runs: read back when nothing they depend on changed, made
again (a new file) when the classifier's weights, a video or the settings change."""

from __future__ import annotations

import os

import torch

from pipeline.tasks.feature_cache import cache_key, cached


def test_the_key_follows_weights_videos_and_settings(tmp_path) -> None:
    model = torch.nn.Linear(3, 2)
    video = tmp_path / "a b.mp4"
    video.write_bytes(b"x" * 10)
    key = cache_key(model, {"size": 64}, [str(video)], {"step": 1.0})
    assert key == cache_key(model, {"size": 64}, [str(video)], {"step": 1.0})
    assert key != cache_key(model, {"size": 64}, [str(video)], {"step": 2.0})
    assert key != cache_key(model, {"size": 32}, [str(video)], {"step": 1.0})
    os.utime(video, ns=(1, 1))  # the video was replaced
    moved = cache_key(model, {"size": 64}, [str(video)], {"step": 1.0})
    assert moved != key
    with torch.no_grad():
        model.bias += 1  # another classifier
    assert cache_key(model, {"size": 64}, [str(video)], {"step": 1.0}) != moved


def test_cached_computes_once_and_reads_back_the_same_tensors(tmp_path) -> None:
    calls = []

    def compute():
        calls.append(1)
        return [{"look": torch.arange(6.0).reshape(2, 3), "keyframe": torch.ones(2)}, {}]

    path = tmp_path / "cache" / "train-abc.pt"
    first = cached(path, compute)
    again = cached(path, compute)
    assert len(calls) == 1 and path.exists() and not list(path.parent.glob(".*"))
    assert torch.equal(again[0]["look"], first[0]["look"]) and again[1] == {}
