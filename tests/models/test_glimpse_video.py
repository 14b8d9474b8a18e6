"""Video glimpse agent: episodes of different lengths masked, finite everywhere, gradients where they
belong, and REINFORCE finds the one frame that tells the class."""

from __future__ import annotations

import pytest
import torch

from pipeline.models.glimpse_video import AGENTS, VideoGlimpseAgent, episode_loss
from pipeline.registry import ALL_REGISTRIES


@pytest.mark.parametrize("mode", ["features", "frames"])
def test_episode_shapes_masks_and_no_nan(mode):
    torch.manual_seed(0)
    kw = {"feature_dim": 12} if mode == "features" else {"glimpse_size": 8, "scales": 2}
    agent = VideoGlimpseAgent(5, max_glimpses=4, min_glimpses=1, hidden=16, **kw)
    with torch.no_grad():
        agent.halt.bias.fill_(0.0)  # a coin flip: some episodes stop early, some run to the end
    video = torch.randn(64, 10, 12) if mode == "features" else torch.randint(0, 256, (64, 10, 3, 32, 32)).float()
    out = agent(video)
    assert out.logits.shape == (64, 5) and out.log_probs.shape == out.baselines.shape == out.mask.shape == (64, 3)
    assert out.frames.shape == (64, 4) and out.frames.min() >= 0 and out.frames.max() <= 9
    assert out.locations.shape == (64, 4, 2) and out.locations.abs().max() <= 1
    assert out.viewed.min() >= 1 and out.viewed.max() == 4 and out.viewed.min() < 4  # lengths differ
    # the mask covers the decisions made up to the halt: viewed - 1 of them, or all when it never halted
    assert torch.equal(out.mask.sum(1).long(), torch.clamp(out.viewed, max=3))
    loss = episode_loss(out, torch.randint(0, 5, (64,)))
    assert all(torch.isfinite(v).all() for v in loss.values())
    loss["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in agent.parameters() if p.grad is not None)


def test_registered_in_its_own_registry():
    assert "video_glimpse" in AGENTS and ALL_REGISTRIES["agent"] is AGENTS


def test_reinforce_trains_only_the_policy_and_baseline():
    torch.manual_seed(0)
    agent = VideoGlimpseAgent(3, feature_dim=6, max_glimpses=3, hidden=8)
    out = agent(torch.randn(16, 8, 6))
    parts = episode_loss(out, torch.randint(0, 3, (16,)))
    reward = parts["reward"]
    reinforce = -(out.log_probs * (reward - out.baselines.detach()) * out.mask).sum()
    reinforce.backward()
    trained = {n for n, p in agent.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert trained and all(n.split(".")[0] in {"when", "halt"} for n in trained)
    agent.zero_grad()
    agent(torch.randn(16, 8, 6)).logits.sum().backward()
    core = {n.split(".")[0] for n, p in agent.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert core == {"what", "where", "core", "classifier"}


def test_the_agent_learns_to_look_at_the_frame_that_tells_the_class():
    """16 frames of noise features; frame 12 alone carries the class. Starting in the middle (frame 8),
    the agent must learn where to look second: it beats a look at two random frames."""
    g = torch.Generator().manual_seed(0)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 4, (n,), generator=g)
        x = 0.3 * torch.randn(n, 16, 8, generator=g)
        x[torch.arange(n), 12, :4] += 3 * torch.nn.functional.one_hot(y, 4).float()
        return x, y

    torch.manual_seed(0)
    agent = VideoGlimpseAgent(4, feature_dim=8, max_glimpses=2, min_glimpses=2, hidden=32, std=0.2)
    opt = torch.optim.Adam(agent.parameters(), lr=1e-2)
    for _ in range(400):
        x, y = batch(64)
        loss = episode_loss(agent(x), y, glimpse_cost=0.0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    agent.eval()
    x, y = batch(512)
    with torch.no_grad():
        out = agent(x)
    accuracy = (out.logits.argmax(1) == y).float().mean()
    on_target = (out.frames[:, 1] == 12).float().mean()
    assert on_target > 0.8 and accuracy > 0.8  # random second frames would hit frame 12 1 time in 16
