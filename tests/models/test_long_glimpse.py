"""The long-video agent: episodes over timelines of any length, never a slot twice or past the end, and a
policy that learns from the first look where to glimpse (REINFORCE alone, on features where the answer is
known)."""

from __future__ import annotations

import pytest
import torch

from pipeline.models.glimpse_video import episode_loss
from pipeline.models.long_glimpse import FirstLook, LongVideoGlimpseAgent, SecondLook, place_keyframes

BACKGROUND = 3  # in the tests of the second look: classes 0-2 are the video's, 3 means nothing happens


def _probs(*rows: tuple[int, float]) -> torch.Tensor:
    """Class probabilities (n, 4), row i putting p on class c and the rest on background."""
    out = torch.zeros(len(rows), 4)
    for i, (c, p) in enumerate(rows):
        out[i, c] += p
        out[i, BACKGROUND] += 1 - p
    return out


def test_place_keyframes_puts_the_first_keyframe_of_each_slot_in_it() -> None:
    feats = torch.arange(4, dtype=torch.float32)[:, None].repeat(1, 3)  # (K=4, D=3): keyframe k's features are k
    look, flag = place_keyframes(feats, torch.tensor([0, 2, 2, 5]), torch.tensor([1, 0, 1, 0, 0, 0], dtype=torch.bool))
    assert look[:, 0].tolist() == [0, 0, 1, 0, 0, 3]  # slot 2 holds keyframes 1 and 2: the first
    assert flag.tolist() == [1, 0, 1, 0, 0, 0]


def test_episodes_on_videos_of_different_lengths_stay_inside_each_video() -> None:
    torch.manual_seed(0)
    agent = LongVideoGlimpseAgent(4, feature_dim=5, glimpse_dim=6, max_glimpses=6)
    lengths = torch.tensor([3, 40, 12])
    valid = torch.arange(40)[None] < lengths[:, None]  # (3, 40)
    first = FirstLook(torch.randn(3, 40, 5), (torch.rand(3, 40) < 0.2).float(), valid)
    asked: list[tuple[int, int]] = []

    def glimpse(rows: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        asked.extend(zip(rows.tolist(), slots.tolist(), strict=True))
        return torch.randn(len(rows), 6)

    for sample in (True, False):
        asked.clear()
        out = agent(first, glimpse, sample=sample)
        assert out.logits.shape == (3, 4) and out.frames.shape == (3, 6)
        assert out.viewed[0] <= 3  # a 3-slot video cannot take more glimpses than it has slots
        for r, s in asked:
            assert s < lengths[r]
        per_video = [[s for r, s in asked if r == v] for v in range(3)]
        assert all(len(p) == len(set(p)) for p in per_video)  # never the same slot twice
        assert [len(p) for p in per_video] == out.viewed.tolist()  # only live episodes decode
        assert torch.isfinite(out.log_probs).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reinforce_learns_to_glimpse_where_the_first_look_points(seed: int) -> None:
    """Timelines of 30-60 slots; one holds the event (the only glimpse that shows the class); the first look
    marks it and four decoys by a keyframe, and shows the event's keyframe differently. Trained by
    REINFORCE on the reward alone, the agent's first glimpse finds the event far above the 1-in-5 a
    policy that merely prefers keyframes would, and its answers beat chance."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    k, d, batch = 4, 8, 64

    def videos() -> tuple[FirstLook, torch.Tensor, torch.Tensor, torch.Tensor]:
        lengths = torch.randint(30, 61, (batch,), generator=g)
        valid = torch.arange(60)[None] < lengths[:, None]
        event = (torch.rand(batch, generator=g) * (lengths - 1)).long()
        labels = torch.randint(0, k, (batch,), generator=g)
        key = torch.zeros(batch, 60)
        feats = torch.zeros(batch, 60, d)
        for b in range(batch):
            decoys = torch.randperm(int(lengths[b]), generator=g)[:4]
            key[b, decoys] = 1.0
            feats[b, decoys, 0] = 1.0  # a keyframe of footage
        rows = torch.arange(batch)
        key[rows, event] = 1.0
        feats[rows, event] = 0.0
        feats[rows, event, 1] = 1.0  # the event's keyframe looks different
        glimpses = torch.zeros(batch, 60, k + 1)
        glimpses[:, :, k] = 1.0  # every glimpse shows "background" ...
        glimpses[rows, event] = torch.nn.functional.one_hot(labels, k + 1).float()  # ... but the event's
        return FirstLook(feats, key, valid), glimpses, labels, event

    agent = LongVideoGlimpseAgent(k, feature_dim=d, glimpse_dim=k + 1, max_glimpses=3, hidden=32, memory=8)
    opt = torch.optim.Adam(agent.parameters(), lr=3e-3)
    for _ in range(300):
        first, glimpses, labels, _ = videos()
        out = agent.train()(first, lambda r, s, gl=glimpses: gl[r, s])
        loss = episode_loss(out, labels, glimpse_cost=0.02)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    first, glimpses, labels, event = videos()
    with torch.no_grad():
        out = agent.eval()(first, lambda r, s, gl=glimpses: gl[r, s], sample=False)
    found_first = (out.frames[:, 0] == event).float().mean().item()
    top1 = (out.logits.argmax(1) == labels).float().mean().item()
    assert found_first > 0.8, found_first
    assert top1 > 0.8, top1


def test_the_second_look_runs_only_where_no_keyframe_shows_a_video_class() -> None:
    rule = SecondLook(empty=(BACKGROUND,), classes=4, below=0.99, sure=0.9)
    feats = torch.cat([torch.randn(3, 5), _probs((0, 0.6), (1, 0.98), (2, 0.2))], 1)  # (K=3, D=5+4)
    look, flag = place_keyframes(feats, torch.tensor([0, 4, 7]), torch.tensor([1, 0, 0, 0, 1, 0, 0, 1, 0]).bool())
    assert rule.wanted(look, flag)  # footage alone reaches 0.98 on one keyframe
    look[4, -4:] = _probs((1, 0.995))[0]
    assert not rule.wanted(look, flag)  # a keyframe shows digit 1
    assert rule.wanted(torch.zeros(9, 9), torch.zeros(9))  # no keyframe at all
    assert not SecondLook(empty=(), classes=4).wanted(look * 0, flag)  # no class for "nothing": never


def test_the_sweep_stops_at_two_slots_in_a_row_sure_of_a_video_class_and_fills_the_slots_it_read() -> None:
    rule = SecondLook(empty=(BACKGROUND,), classes=4, below=0.99, sure=0.9)
    assert rule.stop(_probs((0, 0.1), (1, 0.95), (2, 0.5), (2, 0.95))) is None  # never two sure slots in a row
    assert rule.stop(_probs((0, 0.1), (1, 0.95), (2, 0.95), (2, 0.93), (0, 0.99))) == 3  # slots 1 and 2: any class
    assert rule.stop(_probs((0, 0.1))) is None and rule.stop(torch.zeros(0, 4)) is None
    look = torch.zeros(6, 2)
    look[2] = 7.0
    flag = torch.tensor([0, 0, 1, 0, 0, 0.0])
    placed, now = rule.place(look, flag, torch.ones(4, 2))  # the sweep read slots 0-3
    assert placed[:, 0].tolist() == [1, 1, 7, 1, 0, 0] and now.tolist() == [1, 1, 1, 1, 0, 0]
    assert look[0, 0] == 0 and flag[0] == 0  # the first look is left as it was


def test_halting_on_sight_goes_on_until_a_glimpse_shows_a_video_class() -> None:
    torch.manual_seed(0)
    rule = {"empty": [BACKGROUND], "classes": 4, "below": 0.99, "sure": 0.9}
    event = 7  # the only slot whose clip the classifier reads as a video class

    def glimpse(rows: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([_probs((1, 0.9 if int(s) == event else 0.1))[0] for s in slots])  # (A, 4)
        return torch.cat([torch.zeros(len(rows), 2), probs], 1)  # (A, 2 + 4)

    first = FirstLook(torch.zeros(2, 10, 5), torch.zeros(2, 10), torch.ones(2, 10, dtype=torch.bool))
    for on_sight in (False, True):
        agent = LongVideoGlimpseAgent(3, feature_dim=5, glimpse_dim=6, max_glimpses=10, halt_threshold=-1.0,
                                      second_look=rule, halt_on_sight=on_sight).eval()  # fmt: skip
        out = agent(first, glimpse, sample=False)  # a halting unit that always wants to stop
        if not on_sight:
            assert out.viewed.tolist() == [1, 1]
            continue
        assert out.frames[0, out.viewed[0] - 1] == event  # it stopped on the glimpse that saw the event
        assert (out.halt_prob[0, : out.viewed[0] - 1] == 0).all()
        sampled = LongVideoGlimpseAgent(3, feature_dim=5, glimpse_dim=6, max_glimpses=10, second_look=rule,
                                        halt_on_sight=True)(first, glimpse, sample=True)  # fmt: skip
        for row in range(2):
            seen = sampled.frames[row, : sampled.viewed[row]].tolist()
            assert seen[-1] == event or len(seen) == 10  # halted only on sight
    with pytest.raises(ValueError, match="second_look"):
        LongVideoGlimpseAgent(3, feature_dim=5, glimpse_dim=6, halt_on_sight=True)
