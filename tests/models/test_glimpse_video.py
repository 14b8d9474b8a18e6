"""Video glimpse agent: episodes of different lengths masked, finite everywhere over many seeds, gradients
where they belong, only the frames looked at encoded, and REINFORCE finds the frame that tells the class."""

from __future__ import annotations

import math

import pytest
import torch

from pipeline.models.glimpse_video import AGENTS, GlimpseVideoModel, VideoGlimpseAgent, episode_loss
from pipeline.models.video_classifier import VideoClassifier
from pipeline.registry import ALL_REGISTRIES


@pytest.fixture(autouse=True)
def one_thread():
    """Small LSTM steps: a second thread only adds contention (30x slower on the shared 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def coin_flip_halts(agent: VideoGlimpseAgent) -> VideoGlimpseAgent:
    with torch.no_grad():
        agent.halt.weight.zero_()
        agent.halt.bias.fill_(0.0)  # some episodes stop early, some run to the end
    return agent


@pytest.mark.parametrize("memory", [0, 6])
@pytest.mark.parametrize("mode", ["features", "frames"])
def test_episode_shapes_masks_and_no_nan(mode, memory):
    torch.manual_seed(0)
    kw = {"feature_dim": 12} if mode == "features" else {"glimpse_size": 8, "scales": 2}
    agent = coin_flip_halts(VideoGlimpseAgent(5, num_frames=10, max_glimpses=4, min_glimpses=1, hidden=16,
                                              memory=memory, **kw))  # fmt: skip
    video = torch.randn(64, 10, 12) if mode == "features" else torch.randint(0, 256, (64, 10, 3, 32, 32)).float()
    out = agent(video)
    assert out.logits.shape == (64, 5) and out.step_logits.shape == (64, 4, 5)
    assert out.log_probs.shape == out.baselines.shape == out.mask.shape == out.entropy.shape == (64, 4)
    assert out.frames.shape == (64, 4) and out.frames.min() >= 0 and out.frames.max() <= 9
    assert out.locations.shape == (64, 4, 2) and out.locations.abs().max() <= 1
    assert out.viewed.min() >= 1 and out.viewed.max() == 4 and out.viewed.min() < 4  # lengths differ
    assert torch.equal(out.mask.sum(1).long(), out.viewed)  # the mask covers the steps taken
    assert torch.equal(out.mask[:, 0], torch.ones(64))  # the first glimpse is always taken
    for n in range(64):  # never the same frame twice in an episode; the answer is the halting step's
        v = int(out.viewed[n])
        assert len(set(out.frames[n, :v].tolist())) == v
        assert torch.equal(out.logits[n], out.step_logits[n, v - 1])
    loss = episode_loss(out, torch.randint(0, 5, (64,)))
    assert all(torch.isfinite(v).all() for v in loss.values())
    loss["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in agent.parameters() if p.grad is not None)


def test_min_glimpses_and_the_cap():
    torch.manual_seed(0)
    agent = VideoGlimpseAgent(3, num_frames=8, feature_dim=4, max_glimpses=5, min_glimpses=3, hidden=8)
    with torch.no_grad():
        agent.halt.bias.fill_(20.0)  # wants to stop at once
    out = agent(torch.randn(32, 8, 4))
    assert torch.equal(out.viewed, torch.full((32,), 3))  # but may not before min_glimpses
    assert torch.equal(out.halt_prob[:, :2], torch.zeros(32, 2))
    with pytest.raises(ValueError, match="max_glimpses"):
        VideoGlimpseAgent(3, num_frames=4, feature_dim=4, max_glimpses=5)
    with pytest.raises(ValueError, match="clips of 8 frames"):
        agent(torch.randn(2, 9, 4))


def test_the_halting_threshold_sets_when_a_test_episode_stops():
    torch.manual_seed(0)
    agent = VideoGlimpseAgent(3, num_frames=8, feature_dim=4, max_glimpses=5, min_glimpses=2, hidden=8).eval()
    with torch.no_grad():
        agent.halt.weight.zero_()
        agent.halt.bias.fill_(-0.85)  # halting probability 0.3 after every step
    video = torch.randn(16, 8, 4)
    assert torch.equal(agent(video).viewed, torch.full((16,), 5))  # 0.3 < 0.5: runs to the cap
    agent.halt_threshold = 0.25
    assert torch.equal(agent(video).viewed, torch.full((16,), 2))  # 0.3 > 0.25: stops at min_glimpses
    built = VideoGlimpseAgent(3, num_frames=8, feature_dim=4, max_glimpses=5, min_glimpses=2, halt_threshold=0.25)
    assert built.halt_threshold == 0.25


def test_the_timeline_map_holds_what_was_seen_in_the_slots_of_the_frames_seen():
    """At each step the frame policy's map holds, for every frame the episode has looked at (and only
    those), what it saw there, and a 1 in the "seen" channel; a halted episode writes nothing more."""
    torch.manual_seed(0)
    agent = coin_flip_halts(VideoGlimpseAgent(3, num_frames=8, feature_dim=5, max_glimpses=5, hidden=8, memory=4))
    maps = []
    agent.scan.register_forward_pre_hook(lambda m, args: maps.append(args[0].detach().clone()))
    video = torch.randn(32, 8, 5)
    out = agent(video)
    assert len(maps) == 5 and out.viewed.min() < 5  # one map per step; some episodes halted early
    rows = torch.arange(32)
    for step, timeline in enumerate(maps):
        assert timeline.shape == (32, 8, 5)  # (B, T, memory + seen)
        expected = torch.zeros(32, 8, 5)
        for k in range(step):
            live = out.mask[:, k].bool()
            f = out.frames[live, k]
            with torch.no_grad():
                expected[rows[live], f, :4] = agent.remember(video[rows[live], f])
            expected[rows[live], f, 4] = 1.0
        assert torch.allclose(timeline, expected, atol=1e-6), step


def test_with_halt_on_answer_the_halting_policy_reads_how_sure_the_answer_is():
    """`halt_on_answer`: the halting probability after a step is sigmoid(W [h, entropy of the answer]); with
    the weights on h zeroed, it is a function of the answer's entropy alone (lower entropy, likelier halt)."""
    torch.manual_seed(0)
    agent = VideoGlimpseAgent(4, num_frames=8, feature_dim=5, max_glimpses=4, hidden=8, halt_on_answer=True)
    assert agent.halt.in_features == 9  # h and the entropy
    with torch.no_grad():
        agent.halt.weight.zero_()
        agent.halt.weight[0, -1] = -10.0
        agent.halt.bias.fill_(10.0)  # halting probability sigmoid(10 (1 - entropy))
        agent.classifier.weight.mul_(30.0)  # answers from unsure to sure
    out = agent(torch.randn(64, 8, 5) * 3)
    p = out.step_logits.detach().softmax(-1)  # (B, G, K)
    expected = torch.sigmoid(10 * (1 + (p * p.log()).sum(-1)))  # (B, G)
    live = out.mask.bool()[:, :3]  # the last step's halt probability is 1 by definition
    assert torch.allclose(out.halt_prob[:, :3][live], expected[:, :3][live], atol=1e-5)
    assert expected[:, :3][live].std() > 0.05  # the answers' entropies differ: not a constant


def test_the_answers_own_map_reads_frames_relative_to_each_other_and_is_written_where_they_were_seen():
    """`answer_memory`: the answer's map part is the same wherever in the clip the same frames were seen
    (moving them by 3 frames changes nothing), and the answer of an episode is classifier(h) + that part of
    the notes written in the slots of the frames it looked at."""
    torch.manual_seed(0)
    agent = VideoGlimpseAgent(
        4, num_frames=16, feature_dim=5, max_glimpses=3, min_glimpses=3, hidden=8, answer_memory=6
    ).eval()
    notes, seen = torch.zeros(1, 16, 6), torch.zeros(1, 16, dtype=torch.bool)
    notes[0, 4:6], seen[0, 4:6] = torch.rand(2, 6), True  # frames 4 and 5 seen
    h = torch.randn(1, 8)
    with torch.no_grad():
        here = agent.answer(h, notes, seen)
        moved = agent.answer(h, torch.roll(notes, 3, dims=1), torch.roll(seen, 3, dims=1))
        swapped = agent.answer(h, torch.flip(notes, dims=[1]), torch.flip(seen, dims=[1]))  # time reversed
    assert torch.allclose(here, moved, atol=1e-6)
    assert not torch.allclose(here, swapped, atol=1e-4)  # the order in time matters
    inputs = []
    agent.answer_scan.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach().clone()))
    video = torch.randn(2, 16, 5)
    with torch.no_grad():
        out = agent(video)
        last = inputs[-1]  # (B, T, a + seen) the notes the final answer read
        expected = torch.zeros(2, 16, 7)
        for n in range(2):
            f = out.frames[n]
            assert out.viewed[n] == 3 and len(set(f.tolist())) == 3
            expected[n, f, :6], expected[n, f, 6] = agent.answer_write(video[n, f]), 1.0
    assert len(inputs) == 3  # after each of the 3 glimpses
    assert torch.allclose(last, expected, atol=1e-6)
    assert agent.answer_write[1].weight.grad is None


def test_the_map_scores_a_frame_by_what_lies_around_it_wherever_it_is():
    """The map's part of the frame scores is the same rule at every place in the clip: moving what was seen
    by 3 frames moves the scores by 3 frames (away from the ends of the clip)."""
    torch.manual_seed(0)
    agent = VideoGlimpseAgent(3, num_frames=20, feature_dim=5, hidden=8, memory=4, memory_kernel=5)
    timeline = torch.zeros(1, 20, 5)
    timeline[0, 6] = torch.randn(5)
    moved = torch.roll(timeline, 3, dims=1)
    with torch.no_grad():
        a, b = agent.scan(timeline), agent.scan(moved)  # (1, 20)
    assert torch.allclose(a[0, 2:11], b[0, 5:14], atol=1e-6)
    assert not torch.allclose(a[0, 2:11], a[0, 5:14], atol=1e-3)  # not merely flat


def test_registered_in_its_own_registry():
    assert AGENTS.get("video_glimpse") is VideoGlimpseAgent and ALL_REGISTRIES["agent"] is AGENTS


def gradients(loss: torch.Tensor, agent: torch.nn.Module) -> dict[str, torch.Tensor]:
    agent.zero_grad()
    loss.backward(retain_graph=True)
    return {n: torch.zeros_like(p) if p.grad is None else p.grad.clone() for n, p in agent.named_parameters()}


def trained_parts(loss: torch.Tensor, agent: torch.nn.Module) -> set[str]:
    return {n.split(".")[0] for n, g in gradients(loss, agent).items() if g.abs().sum() > 0}


@pytest.mark.parametrize(("memory", "answer_parts"), [(0, False), (4, False), (4, True)])
@pytest.mark.parametrize("mode", ["features", "frames"])
def test_each_loss_trains_only_its_part(mode, memory, answer_parts):
    """With `answer_parts` also the halt that reads the answer (halt_on_answer) and the answer's own map:
    REINFORCE still reaches only the policy, the classification loss only the answer."""
    torch.manual_seed(0)
    kw = {"feature_dim": 6} if mode == "features" else {"glimpse_size": 4, "scales": 1}
    options = {"halt_on_answer": answer_parts, "answer_memory": 3 * answer_parts}
    agent = coin_flip_halts(VideoGlimpseAgent(3, num_frames=8, max_glimpses=3, hidden=8, memory=memory, **options,
                                              **kw))  # fmt: skip
    video = torch.randn(16, 8, 6) if mode == "features" else torch.randn(16, 8, 3, 16, 16)
    out = agent(video)
    labels = torch.randint(0, 3, (16,))
    reward = (out.logits.argmax(1) == labels).float()[:, None]
    policy = {"when_abs", "when_rel", "halt"} | ({"loc"} if mode == "frames" else set())
    policy |= {"remember", "scan"} if memory else set()  # the timeline map is the frame policy's own
    assert trained_parts(-(out.log_probs * (reward - out.baselines.detach()) * out.mask).sum(), agent) == policy
    assert trained_parts(((out.baselines - reward) ** 2).sum(), agent) == {"baseline"}
    answer = {"what", "where", "core", "classifier"} | ({"answer_write", "answer_scan"} if answer_parts else set())
    assert trained_parts(out.step_logits.sum(), agent) == answer


@pytest.mark.parametrize("mode", ["features", "frames"])
def test_episode_loss_sends_each_term_only_to_its_part(mode):
    """Through `episode_loss` itself (no entropy bonus): the policy's gradient is REINFORCE's alone, the
    baseline's the regression's alone (an undetached baseline in the advantage would add REINFORCE's), and the
    answer's the cross-entropy's alone."""
    torch.manual_seed(1)
    kw = {"feature_dim": 6} if mode == "features" else {"glimpse_size": 4, "scales": 1}
    agent = coin_flip_halts(VideoGlimpseAgent(3, num_frames=8, max_glimpses=3, hidden=8, memory=4, **kw))
    video = torch.randn(16, 8, 6) if mode == "features" else torch.randn(16, 8, 3, 16, 16)
    out, labels = agent(video), torch.randint(0, 3, (16,))
    total = gradients(episode_loss(out, labels, glimpse_cost=0.1, entropy_weight=0.0)["loss"], agent)
    m = out.mask
    reward = ((out.logits.argmax(1) == labels).float() - 0.1 * out.viewed.float())[:, None]  # (B, 1)
    terms = {
        "policy": -(out.log_probs * (reward - out.baselines.detach()) * m).sum() / 16,
        "baseline": ((out.baselines - reward) ** 2 * m).sum() / m.sum(),
        "answer": torch.nn.functional.cross_entropy(out.step_logits.flatten(0, 1), labels.repeat_interleave(3),
                                                    reduction="none").view_as(m).mul(m).sum() / m.sum(),
    }  # fmt: skip
    owner = {"baseline": "baseline", "what": "answer", "where": "answer", "core": "answer", "classifier": "answer"}
    alone = {k: gradients(v, agent) for k, v in terms.items()}
    for name, grad in total.items():
        torch.testing.assert_close(grad, alone[owner.get(name.split(".")[0], "policy")][name], msg=name)


@pytest.mark.parametrize("mode", ["features", "frames"])
def test_no_nan_over_many_seeds_even_with_extreme_inputs(mode):
    """Training steps at a high learning rate on huge and tiny inputs, 20 seeds: everything stays finite
    (over pixels too, where the place policy's log-probabilities add to the frame policy's)."""
    kw = {"feature_dim": 5} if mode == "features" else {"in_channels": 1, "glimpse_size": 4, "scales": 2}
    shape = (8, 6, 5) if mode == "features" else (8, 6, 1, 12, 12)
    for seed in range(20):
        torch.manual_seed(seed)
        agent = VideoGlimpseAgent(4, num_frames=6, max_glimpses=4, hidden=8, dropout=0.2, **kw)
        opt = torch.optim.Adam(agent.parameters(), lr=0.5)
        for scale in (1e-6, 1.0, 1e4):
            video = scale * torch.randn(*shape)
            out = agent(video)
            # a probability is at most 1; the place's Gaussian density at most 1 / (2 pi std^2) in two dimensions
            top = 1e-6 if mode == "features" else -math.log(2 * math.pi * agent.std**2) + 1e-6
            assert torch.isfinite(out.log_probs).all() and (out.log_probs * out.mask <= top).all()
            parts = episode_loss(out, torch.randint(0, 4, (8,)), glimpse_cost=0.05)
            assert all(torch.isfinite(v).all() for v in parts.values()), seed
            opt.zero_grad()
            parts["loss"].backward()
            opt.step()
        assert all(torch.isfinite(p).all() for p in agent.parameters()), seed


def test_a_non_finite_log_probability_is_caught():
    agent = VideoGlimpseAgent(3, num_frames=4, feature_dim=2, max_glimpses=2, hidden=4)
    out = agent(torch.randn(2, 4, 2))
    out.log_probs[0, 0] = float("nan")
    with pytest.raises(FloatingPointError):
        episode_loss(out, torch.zeros(2, dtype=torch.long))


def test_the_model_encodes_only_the_frames_looked_at_and_the_encoder_gets_no_gradient():
    torch.manual_seed(0)
    features = VideoClassifier.build(num_classes=3, backbone="tiny", head="tsn")
    dim = GlimpseVideoModel.feature_dim(features)
    agent = coin_flip_halts(VideoGlimpseAgent(3, num_frames=6, feature_dim=dim, max_glimpses=4, hidden=8))
    model = GlimpseVideoModel(features, agent).train()
    assert not model.features.training  # batch norm statistics stay the classifier's
    encoded = []
    model.features.backbone.register_forward_hook(lambda m, i, o: encoded.append(len(o)))
    video = torch.randint(0, 256, (16, 6, 3, 32, 32), dtype=torch.uint8)
    out = model(video)
    assert sum(encoded) == int(out.viewed.sum()) < 16 * 6  # halted episodes encode nothing more
    parts = episode_loss(out, torch.randint(0, 3, (16,)))
    parts["loss"].backward()
    assert all(p.grad is None for p in model.features.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.agent.parameters())


def test_the_agent_learns_to_look_at_the_frame_that_tells_the_class():
    """16 frames of noise features; frame 12 alone carries the class. With two glimpses the agent must
    learn to look there: random frames would find it 2 times in 16, and the answer needs it."""
    g = torch.Generator().manual_seed(0)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 4, (n,), generator=g)
        x = 0.3 * torch.randn(n, 16, 8, generator=g)
        x[torch.arange(n), 12, :4] += 3 * torch.nn.functional.one_hot(y, 4).float()
        return x, y

    torch.manual_seed(0)
    agent = VideoGlimpseAgent(4, num_frames=16, feature_dim=8, max_glimpses=2, min_glimpses=2, hidden=32)
    opt = torch.optim.Adam(agent.parameters(), lr=1e-2)
    for _ in range(300):
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
    on_target = (out.frames == 12).any(1).float().mean()
    assert on_target > 0.9 and accuracy > 0.9


def pixel_task(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """8 frames of 24x24 faint noise; frame 5 alone holds the class, as which of the four 4x4 corners of the
    frame's top-left 8x8 quadrant is bright. A glimpse at the centre sees none of it sharply."""
    y = torch.randint(0, 4, (n,), generator=g)
    x = 0.3 * torch.rand(n, 8, 1, 24, 24, generator=g)  # (B, T, C, H, W)
    for i, (r, c) in enumerate(zip(((y // 2) * 4).tolist(), ((y % 2) * 4).tolist(), strict=True)):
        x[i, 5, 0, r : r + 4, c : c + 4] += 1.0
    return x, y


def train_on_pixels(seed: int, *, learn_places: bool) -> tuple[float, float, torch.Tensor]:
    """(accuracy, share of episodes that looked at frame 5, mean place of the glimpses there) after 400 steps."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    agent = VideoGlimpseAgent(4, num_frames=8, in_channels=1, glimpse_size=8, scales=2, max_glimpses=2,
                              min_glimpses=2, hidden=32)  # fmt: skip
    agent.loc.requires_grad_(learn_places)  # frozen: the places stay those of the untrained policy
    opt = torch.optim.Adam([p for p in agent.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(400):
        x, y = pixel_task(64, g)
        loss = episode_loss(agent(x), y, glimpse_cost=0.0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    agent.eval()
    x, y = pixel_task(512, g)
    with torch.no_grad():
        out = agent(x)
    on_frame = out.frames == 5  # (B, G)
    accuracy = (out.logits.argmax(1) == y).float().mean().item()
    return accuracy, on_frame.any(1).float().mean().item(), out.locations[on_frame].mean(0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_over_pixels_the_agent_learns_which_frame_and_where_in_it(seed):
    """Frames and places both come from REINFORCE: the agent finds frame 5 and moves its glimpse there to the
    top-left quadrant; the same agent whose place policy is frozen (frames still learned) does much worse
    (measured: 1.00 against 0.48-0.75 on these seeds)."""
    accuracy, on_frame, place = train_on_pixels(seed, learn_places=True)
    assert accuracy > 0.95 and on_frame > 0.95
    assert (place < -0.15).all()  # (x, y) toward the top-left corner, where the class is
    frozen, _, _ = train_on_pixels(seed, learn_places=False)
    assert frozen < accuracy - 0.2


def test_the_model_refuses_an_agent_that_does_not_match_what_it_is_given():
    features = VideoClassifier.build(num_classes=3, backbone="tiny", head="tsn")
    over_pixels = VideoGlimpseAgent(3, num_frames=6, glimpse_size=4)
    over_features = VideoGlimpseAgent(3, num_frames=6, feature_dim=GlimpseVideoModel.feature_dim(features))
    with pytest.raises(ValueError, match="features=None"):
        GlimpseVideoModel(features, over_pixels)
    with pytest.raises(ValueError, match="needs the classifier"):
        GlimpseVideoModel(None, over_features)
    video = torch.randint(0, 256, (2, 6, 3, 16, 16), dtype=torch.uint8)
    out = GlimpseVideoModel(None, over_pixels).eval()(video)  # uint8 frames, normalised before the retina
    assert out.logits.shape == (2, 3) and torch.isfinite(out.logits).all()
