"""DR-DSN (Zhou et al. 2018): the reward on hand-worked selections, learning on a planted repeat, one policy
trained over many videos and its standalone checkpoint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.errors import ConfigError
from pipeline.inference.summarize.summarizers import build_summarizer
from pipeline.models.summary.dsn import dr_dsn_reward, dsn_scores, load_dsn, save_dsn
from pipeline.tasks.dr_dsn import DRDSNConfig, dr_dsn_scores, train_dsn

X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])  # steps 0 and 2 point the same way


def test_reward_hand_worked():
    # {0, 1}: orthogonal -> R_div 1; every step at distance 0 from a pick (2 normalises onto 0) -> R_rep 1
    assert float(dr_dsn_reward(X, torch.tensor([1.0, 1.0, 0.0]))) == pytest.approx(2.0)
    # {0, 2}: same direction -> R_div 0; step 1 is sqrt(2) from both -> R_rep exp(-sqrt(2) / 3)
    assert float(dr_dsn_reward(X, torch.tensor([1.0, 0.0, 1.0]))) == pytest.approx(math.exp(-math.sqrt(2) / 3))
    # the same pair 2 steps apart with max_distance 1 counts as fully dissimilar: R_div 1
    r = dr_dsn_reward(X, torch.tensor([1.0, 0.0, 1.0]), max_distance=1)
    assert float(r) == pytest.approx(1 + math.exp(-math.sqrt(2) / 3))
    # without the cut-off, far-apart picks count by their dissimilarity: {0, 2} same direction -> R_div 0
    r = dr_dsn_reward(X, torch.tensor([1.0, 0.0, 1.0]), max_distance=None)
    assert float(r) == pytest.approx(math.exp(-math.sqrt(2) / 3))
    far = torch.cat([X[:1], torch.zeros(30, 2) + torch.tensor([0.0, 1.0]), X[:1]])  # (32, 2): step 0 == step 31
    picks = torch.zeros(32)
    picks[[0, 31]] = 1
    paper = dr_dsn_reward(far, picks, max_distance=20)  # the paper's rule: 31 > 20 steps apart -> R_div 1
    assert float(paper) == pytest.approx(1 + math.exp(-30 * math.sqrt(2) / 32))
    assert float(dr_dsn_reward(far, picks)) == pytest.approx(math.exp(-30 * math.sqrt(2) / 32))  # default: all pairs
    # one pick {1}: R_div 0, distances sqrt 2, 0, sqrt 2 -> exp(-2 sqrt(2) / 3); none: 0
    assert float(dr_dsn_reward(X, torch.tensor([0.0, 1.0, 0.0]))) == pytest.approx(math.exp(-2 * math.sqrt(2) / 3))
    assert float(dr_dsn_reward(X, torch.zeros(3))) == 0.0


def test_repeated_content_scores_below_novel_content():
    # Planted: shot A (30 steps) repeats after a 5-step shot B; C (5) and D (10) are new. Diversity and
    # representativeness both reward picking B, C, D over yet another step of A.
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 32, generator=g)
    parts = [(0, 30), (1, 5), (0, 30), (2, 5), (3, 10)]
    x = torch.cat([base[k].repeat(n, 1) for k, n in parts]) + 0.1 * torch.randn(80, 32, generator=g)
    scores = dr_dsn_scores(x, DRDSNConfig(hidden=32, epochs=60, seed=0))
    assert scores.shape == (80,) and ((scores >= 0) & (scores <= 1)).all()
    repeated = torch.cat([scores[0:30], scores[35:65]]).mean()
    novel = torch.cat([scores[30:35], scores[65:80]]).mean()
    assert novel > repeated + 0.05  # measured: 0.56 vs 0.47
    assert torch.equal(scores, dr_dsn_scores(x, DRDSNConfig(hidden=32, epochs=60, seed=0)))  # seeded
    assert torch.get_num_threads() >= 1


# ---------------------------------------------------------------- one policy over many videos, saved


def test_one_video_trains_as_before():
    # dr_dsn_scores is train_dsn on one video: the same scores as the per-video loop it replaced
    x = torch.randn(40, 16, generator=torch.Generator().manual_seed(0))
    cfg = DRDSNConfig(hidden=16, epochs=5, seed=3)
    model, _ = train_dsn([x], cfg)
    assert torch.equal(dsn_scores(model, x), dr_dsn_scores(x, cfg))


def _saved(tmp_path, **record):
    x = torch.randn(30, 16, generator=torch.Generator().manual_seed(0))
    model, _ = train_dsn([x, x[:20]], DRDSNConfig(hidden=8, epochs=3, seed=1))
    rec = {"features": "tiny", "sample_fps": 2.0, "videos": [{"path": "a.mp4", "steps": 30}], **record}
    return save_dsn(tmp_path / "rl.pt", model, DRDSNConfig(hidden=8, epochs=3, seed=1), rec), model, x


def test_checkpoint_round_trips_offline(tmp_path):
    path, model, x = _saved(tmp_path)
    raw = torch.load(path, weights_only=True)  # plain types and tensors only
    assert raw["vap_summary"]["kind"] == "dr_dsn" and raw["vap_summary"]["model"] == {"in_dim": 16, "hidden": 8}
    assert raw["vap_summary"]["config"]["epochs"] == 3 and raw["vap_summary"]["features"] == "tiny"
    loaded, record = load_dsn(path)
    assert record["sample_fps"] == 2.0 and record["videos"] == [{"path": "a.mp4", "steps": 30}]
    assert torch.equal(dsn_scores(loaded, x), dsn_scores(model, x))
    assert [p.name for p in tmp_path.iterdir()] == ["rl.pt"]  # no temp file left


def test_the_rl_summarizer_applies_a_checkpoint_as_trained(tmp_path):
    path, model, x = _saved(tmp_path)
    rl = build_summarizer("rl", checkpoint=path)
    rl.check_features("tiny", 16, sample_fps=2.0)
    assert np.array_equal(rl.score(x), dsn_scores(model, x).numpy())
    assert rl.settings["checkpoint"] == str(path) and rl.settings["trained_on_videos"] == 1
    with pytest.raises(ConfigError, match="trained on 16-d 'tiny' features, this video gives 1280-d 'mobilenet"):
        rl.check_features("mobilenet_v2 imagenet", 1280, sample_fps=2.0)
    with pytest.raises(ConfigError, match="trained on 16-d 'tiny' features, this video gives 16-d 'other'"):
        rl.check_features("other", 16)
    with pytest.raises(ConfigError, match="sampled at 2 fps; pass --sample-fps 2"):
        rl.check_features("tiny", 16, sample_fps=4.0)


def test_every_default_compares_all_pairs_and_a_paper_checkpoint_still_applies(tmp_path):
    from pipeline.apps.summarize.rl import build_parser as build_rl_train_parser
    from pipeline.apps.summarize.videos import build_parser as build_videos_parser

    assert DRDSNConfig().max_distance is None
    assert build_summarizer("rl").settings["max_distance"] is None
    assert build_summarizer("rl", max_distance=20).max_distance == 20
    assert build_rl_train_parser().parse_args(["--method", "rl", "v.mp4", "--out", "p.pt"]).max_distance is None
    videos = build_videos_parser().parse_args(["v.mp4", "--out", "o"])
    assert videos.max_distance is None and videos.shot_value == "sum"
    # A policy saved with the paper's setting (as every checkpoint before this default was) loads, applies
    # and says so in summary.json's settings.
    x = torch.randn(30, 16, generator=torch.Generator().manual_seed(0))
    old = DRDSNConfig(hidden=8, epochs=2, seed=1, max_distance=20)
    model, _ = train_dsn([x], old)
    path = save_dsn(tmp_path / "old.pt", model, old, {"features": "tiny", "sample_fps": 2.0, "videos": []})
    rl = build_summarizer("rl", checkpoint=path)
    assert rl.settings["max_distance"] == 20 and np.array_equal(rl.score(x), dsn_scores(model, x).numpy())
    with pytest.raises(ConfigError, match="trained with its own"):
        build_summarizer("rl", checkpoint=path, max_distance=20)


def test_other_checkpoints_are_refused_with_one_line(tmp_path):
    from pipeline.models.summary.vasnet import VASNet, load_vasnet, save_vasnet

    vasnet = save_vasnet(
        tmp_path / "v.pt", {"model": {"in_dim": 16}, "features": "tiny"}, [VASNet(in_dim=16).state_dict()]
    )
    with pytest.raises(ConfigError, match="supervised VASNet.*use --method supervised") as e:
        load_dsn(vasnet)
    assert "\n" not in str(e.value)
    torch.save({"vap": {"format": 2}, "state_dict": {}}, tmp_path / "train.ckpt")
    with pytest.raises(ConfigError, match="a `vap train` checkpoint"):
        load_dsn(tmp_path / "train.ckpt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="junk.pt: cannot be read as a checkpoint"):
        load_dsn(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        load_dsn(tmp_path / "missing.pt")
    rl, _, _ = _saved(tmp_path)
    with pytest.raises(ConfigError, match="use --method rl"):
        load_vasnet(rl)
