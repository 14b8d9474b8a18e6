"""Recurrent Attention Model (ram.py): REINFORCE trains only the policy and the baseline, the agent learns a
task where the digit can be anywhere, and every glimpse network, core and policy input builds and trains.
(The retina it looks through is the package's, tested in tests/models/.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ram import GlimpseOutput, RecurrentAttentionModel, monte_carlo_probs, ram_loss


def test_forward_shapes_and_sampling():
    torch.manual_seed(0)
    model = RecurrentAttentionModel(10, glimpse_size=4, scales=2, glimpses=5, hidden=32)
    images = torch.rand(3, 1, 20, 20)
    out = model(images)
    assert out.logits.shape == (3, 10) and out.log_probs.shape == (3, 4) and out.baselines.shape == (3, 4)
    assert out.locations.shape == (3, 5, 2) and out.locations.abs().max() <= 1
    model.eval()
    a, b = model(images), model(images)
    assert torch.equal(a.locations, b.locations) and torch.equal(a.locations[:, 0], torch.zeros(3, 2))
    single = RecurrentAttentionModel(10, glimpses=1, hidden=16)(images)
    assert single.log_probs.shape == (3, 1) and single.locations.shape == (3, 1, 2)


def test_reinforce_trains_the_policy_not_the_core():
    torch.manual_seed(0)
    model = RecurrentAttentionModel(4, glimpse_size=4, glimpses=3, hidden=16)
    out = model(torch.rand(8, 1, 12, 12))
    losses = ram_loss(out, torch.randint(0, 4, (8,)))
    assert set(losses) == {"loss", "classification", "baseline", "reinforce", "reward"}
    (-(out.log_probs.sum())).backward(retain_graph=True)  # the REINFORCE path alone
    assert model.policy.weight.grad is not None and model.policy.weight.grad.abs().sum() > 0
    assert model.core.weight_ih.grad is None and model.classifier.weight.grad is None
    model.zero_grad(set_to_none=True)
    F.cross_entropy(out.logits, torch.zeros(8, dtype=torch.long)).backward()  # classification alone
    assert model.policy.weight.grad is None and model.baseline.weight.grad is None
    assert model.core.weight_ih.grad.abs().sum() > 0


def test_every_glimpse_loss_trains_each_answer_and_keeps_the_reward_of_the_last():
    torch.manual_seed(0)
    model = RecurrentAttentionModel(4, glimpse_size=4, glimpses=3, hidden=16)
    out = model(torch.rand(8, 1, 12, 12))
    labels = torch.randint(0, 4, (8,))
    assert out.step_logits.shape == (8, 3, 4) and torch.equal(out.step_logits[:, -1], out.logits)
    last, every = ram_loss(out, labels), ram_loss(out, labels, every_glimpse=True)
    assert torch.equal(last["classification"], every["classification"])  # reported: the last answer's
    assert torch.equal(last["reward"], every["reward"]) and torch.equal(last["reinforce"], every["reinforce"])
    mean_ce = torch.stack([F.cross_entropy(out.step_logits[:, i], labels) for i in range(3)]).mean()
    others = last["loss"] - last["classification"]
    assert torch.allclose(every["loss"], mean_ce + others, atol=1e-6)
    assert not torch.allclose(every["loss"], last["loss"])
    # only the every-glimpse loss trains the first glimpse's answer to be right on its own
    (grad_last,) = torch.autograd.grad(last["loss"], out.step_logits, retain_graph=True, allow_unused=True)
    (grad_every,) = torch.autograd.grad(every["loss"], out.step_logits)
    assert grad_last is None and grad_every[:, 0].abs().sum() > 0


def translated_digits(n: int, canvas: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits (classes 0-3) at a random place on a `canvas` x `canvas` black image."""
    from sklearn.datasets import load_digits

    digits = load_digits(n_class=4)
    pick = rng.integers(0, len(digits.images), n)
    images = np.zeros((n, 1, canvas, canvas), dtype=np.float32)
    for i, k in enumerate(pick):
        y, x = rng.integers(0, canvas - 8 + 1, 2)
        images[i, 0, y : y + 8, x : x + 8] = digits.images[k] / 16.0
    return torch.from_numpy(images), torch.from_numpy(digits.target[pick]).long()


def test_ram_learns_translated_digits():
    """4 classes (chance 25%), the digit anywhere on a 24x24 canvas, 4 glimpses of 6x6 at 2 scales
    (so no glimpse sees the whole canvas). About 8 s on one core; held-out accuracy reached 0.60."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    train_x, train_y = translated_digits(2048, 24, rng)
    test_x, test_y = translated_digits(512, 24, rng)
    model = RecurrentAttentionModel(4, glimpse_size=6, scales=2, glimpses=4, hidden=64, std=0.15)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first, last = [], []
    for epoch in range(20):
        for i in range(0, len(train_y), 64):
            losses = ram_loss(model(train_x[i : i + 64]), train_y[i : i + 64])
            opt.zero_grad()
            losses["loss"].backward()
            opt.step()
            (first if epoch == 0 else last).append(losses["classification"].item())
    model.eval()
    with torch.no_grad():
        accuracy = (model(test_x).logits.argmax(1) == test_y).float().mean().item()
    assert np.mean(last[-10:]) < 0.75 * np.mean(first[:10])  # the loss falls
    assert accuracy > 0.45, accuracy  # chance is 0.25


def test_policy_gradient_is_unbiased_at_the_image_edge():
    """REINFORCE's score function has expectation zero; taken of the clamped location it would not be
    (near the edge most samples clamp to 1 and their log-probability only ever pushes the mean out)."""
    torch.manual_seed(0)
    model = RecurrentAttentionModel(2, glimpse_size=4, glimpses=2, hidden=8, std=0.1)
    with torch.no_grad():
        model.policy.weight.zero_()
        model.policy.bias.fill_(float(np.arctanh(0.95)))  # the policy's mean sits at 0.95, near the edge
    out = model(torch.rand(20000, 1, 16, 16), sample=True)
    (grad,) = torch.autograd.grad(out.log_probs.mean(), model.policy.bias)
    assert out.locations[:, 1].max() <= 1.0  # where it looked stays inside the image
    assert grad.abs().max() < 0.05  # about 0.005 here; taken of the clamped location it is -0.19


def _train_toy(sign: float, steps: int = 200, seed: int = 0) -> torch.Tensor:
    """Only the bottom-right corner tells the class (a white or a black square on grey); the first glimpse
    lands anywhere while training, so the second one is worth aiming. Returns where the trained policy
    sends the second glimpse (its mean location on fresh images). `sign=-1` flips REINFORCE's update."""
    g = torch.Generator().manual_seed(seed)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 2, (n,), generator=g)
        x = 0.5 + 0.05 * torch.randn(n, 1, 16, 16, generator=g)
        x[:, :, 9:15, 9:15] = y[:, None, None, None].float()  # centred at (0.5, 0.5)
        return x, y

    torch.manual_seed(seed)
    model = RecurrentAttentionModel(2, glimpse_size=6, glimpses=2, hidden=32, std=0.2)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(steps):
        x, y = batch(64)
        out = model(x)
        reward = (out.logits.detach().argmax(1) == y).float()[:, None]
        reinforce = -(out.log_probs * (reward - out.baselines.detach())).sum(1).mean()
        loss = ram_loss(out, y)["loss"] + (sign - 1) * reinforce  # sign -1: REINFORCE pushes the other way
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return model(batch(256)[0]).locations[:, 1].mean(0)  # (2,)


def test_reinforce_moves_the_policy_to_the_answer_and_not_with_the_sign_flipped():
    target = torch.tensor([0.5, 0.5])
    assert (_train_toy(+1.0) - target).norm() < 0.3
    assert (_train_toy(-1.0) - target).norm() > 0.6


def test_lstm_core_random_locations_and_monte_carlo():
    torch.manual_seed(0)
    images = torch.rand(5, 1, 24, 24)
    lstm = RecurrentAttentionModel(3, glimpse_size=4, scales=2, glimpses=3, hidden=16, core="lstm")
    out = lstm(images)
    assert isinstance(lstm.core, torch.nn.LSTMCell) and out.logits.shape == (5, 3) and out.log_probs.shape == (5, 2)
    ram_loss(out, torch.zeros(5, dtype=torch.long))["loss"].backward()
    assert lstm.policy.weight.grad.abs().sum() > 0 and lstm.core.weight_ih.grad.abs().sum() > 0

    rand = RecurrentAttentionModel(3, glimpse_size=4, glimpses=3, hidden=16, locations="random").eval()
    a, b = rand(images), rand(images)
    assert not torch.equal(a.locations, b.locations)  # random at test time too, first glimpse included
    assert a.log_probs.abs().max() == 0 and a.baselines.abs().max() == 0  # nothing for REINFORCE
    ram_loss(rand.train()(images), torch.zeros(5, dtype=torch.long))["loss"].backward()
    assert rand.policy.weight.grad is None and rand.core.weight_ih.grad.abs().sum() > 0

    lstm.eval()
    one = monte_carlo_probs(lstm, images, runs=1)
    assert torch.equal(one, lstm(images).logits.softmax(1))  # one run: the deterministic episode
    many = monte_carlo_probs(lstm, images, runs=4)
    assert torch.allclose(many.sum(1), torch.ones(5)) and not torch.allclose(many, one)
    with pytest.raises(ValueError, match="core must be"):
        RecurrentAttentionModel(3, core="gru")


def test_conv_glimpse_network_and_centre_start():
    torch.manual_seed(0)
    images = torch.rand(4, 1, 24, 24)
    model = RecurrentAttentionModel(3, glimpse_size=8, scales=3, glimpses=3, hidden=16, encoder="conv", start="centre")
    assert isinstance(model.what[1], torch.nn.Conv2d) and model.what[1].in_channels == 3  # scales as channels
    out = model(images)  # training: sampled locations, but the first glimpse at the centre
    assert torch.equal(out.locations[:, 0], torch.zeros(4, 2)) and out.locations[:, 1:].abs().sum() > 0
    ram_loss(out, torch.zeros(4, dtype=torch.long))["loss"].backward()
    assert model.what[1].weight.grad.abs().sum() > 0
    assert not torch.equal(RecurrentAttentionModel(3, glimpses=2, hidden=8)(images).locations[:, 0], torch.zeros(4, 2))
    with pytest.raises(ValueError, match="encoder must be"):
        RecurrentAttentionModel(3, encoder="vit")


def test_conv3_glimpse_network_has_a_smaller_fc_layer_and_trains():
    """conv3 adds a third conv block: for a 28x28 glimpse its FC layer reads 64 x 3 x 3 inputs, not 64 x 7 x 7."""
    torch.manual_seed(0)
    images = torch.rand(2, 1, 60, 60)
    conv = RecurrentAttentionModel(3, glimpse_size=28, scales=2, glimpses=2, hidden=16, encoder="conv")
    conv3 = RecurrentAttentionModel(3, glimpse_size=28, scales=2, glimpses=2, hidden=16, encoder="conv3")
    fc = [m for m in conv3.what if isinstance(m, torch.nn.Linear)][0]
    assert fc.in_features == 64 * 3 * 3
    assert sum(p.numel() for p in conv3.parameters()) < sum(p.numel() for p in conv.parameters()) - 250_000
    out = conv3(images)
    assert out.logits.shape == (2, 3) and torch.isfinite(out.logits).all()
    ram_loss(out, torch.zeros(2, dtype=torch.long))["loss"].backward()
    assert all(m.weight.grad.abs().sum() > 0 for m in conv3.what if isinstance(m, torch.nn.Conv2d))
    with pytest.raises(ValueError, match="glimpse_size >= 8"):
        RecurrentAttentionModel(3, glimpse_size=6, encoder="conv3")


def test_towers_glimpse_network_encodes_each_scale_on_its_own_with_shared_weights():
    """towers: conv3's blocks see one scale at a time; scale j's features depend on scale j only."""
    torch.manual_seed(0)
    model = RecurrentAttentionModel(3, glimpse_size=16, scales=2, glimpses=2, hidden=16, encoder="towers")
    conv3 = RecurrentAttentionModel(3, glimpse_size=16, scales=2, glimpses=2, hidden=16, encoder="conv3")
    assert model.what[1].in_channels == 1 and conv3.what[1].in_channels == 2
    fc = [m for m in model.what if isinstance(m, torch.nn.Linear)][0]
    assert fc.in_features == 2 * 64 * 2 * 2
    features = model.what[:-2]  # up to the concatenation: (B, k * 256)
    patches = torch.rand(2, 2, 1, 16, 16)  # (B, k, C, g, g)
    moved = patches.clone()
    moved[:, 1] = torch.rand(2, 1, 16, 16)  # only the coarse scale changes
    a, b = features(patches), features(moved)
    assert a.shape == (2, 512)
    assert torch.equal(a[:, :256], b[:, :256]) and not torch.equal(a[:, 256:], b[:, 256:])
    swapped = features(patches.flip(1))  # one tower for both scales: swapping them swaps the halves
    assert torch.allclose(swapped, torch.cat([a[:, 256:], a[:, :256]], 1))
    out = model(torch.rand(2, 1, 60, 60))
    assert out.logits.shape == (2, 3) and torch.isfinite(out.logits).all()
    ram_loss(out, torch.zeros(2, dtype=torch.long))["loss"].backward()
    assert all(m.weight.grad.abs().sum() > 0 for m in model.what if isinstance(m, torch.nn.Conv2d))
    with pytest.raises(ValueError, match="glimpse_size >= 8"):
        RecurrentAttentionModel(3, glimpse_size=6, encoder="towers")


def test_context_view_chooses_the_first_glimpse_and_trains_only_by_reinforce():
    """With `context=True` the policy reads a coarse view of the whole image (Ba et al. 2015) and picks
    every place, the first one too; only REINFORCE reaches the view's layer."""
    torch.manual_seed(0)
    images = torch.rand(6, 1, 24, 24)
    model = RecurrentAttentionModel(3, glimpse_size=6, scales=2, glimpses=3, hidden=16, context=True)
    out = model(images)
    assert out.log_probs.shape == (6, 3) and out.baselines.shape == (6, 3) and out.locations.shape == (6, 3, 2)
    model.eval()
    first = model(images).locations[:, 0]  # deterministic: the policy's mean, read from the view
    assert not torch.allclose(first, torch.zeros(6, 2)) and torch.equal(first, model(images).locations[:, 0])
    assert not torch.allclose(first, model(images.flip(-1)).locations[:, 0])  # it depends on the image
    model.train()
    out = model(images)
    F.cross_entropy(out.logits, torch.zeros(6, dtype=torch.long)).backward(retain_graph=True)
    assert model.context[1].weight.grad is None and model.policy.weight.grad is None
    assert model.core.weight_ih.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    (-(out.log_probs.sum())).backward()
    assert model.context[1].weight.grad.abs().sum() > 0 and model.policy.weight.grad.abs().sum() > 0
    assert model.core.weight_ih.grad is None and model.classifier.weight.grad is None
    rand = RecurrentAttentionModel(3, glimpse_size=6, glimpses=3, hidden=16, context=True, locations="random")
    assert rand(images).log_probs.abs().max() == 0  # random places: the view is never read


def test_several_episodes_per_image_use_the_others_mean_reward_as_baseline():
    """Two images, three episodes each: image 0 right in episodes 0 and 1, image 1 only in episode 2."""
    logits = torch.tensor([[5.0, 0], [5, 0], [0, 5], [5, 0], [5, 0], [0, 5]])  # (6, 2)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    log_probs = torch.zeros(6, 2, requires_grad=True)  # (B, N)
    out = GlimpseOutput(logits, log_probs, torch.full((6, 2), 0.9), torch.zeros(6, 3, 2), logits[:, None])
    ram_loss(out, labels, episodes=3)["loss"].backward()
    advantage = torch.tensor([1 - 0.5, 1 - 0.5, 0 - 1, 0 - 0.5, 0 - 0.5, 1 - 0])  # reward - the others' mean
    assert torch.allclose(log_probs.grad, -advantage[:, None].expand(6, 2) / 6)
    log_probs.grad = None
    ram_loss(out, labels)["loss"].backward()  # one episode: the learned baseline (0.9)
    reward = torch.tensor([1.0, 1, 0, 0, 0, 1])
    assert torch.allclose(log_probs.grad, -(reward - 0.9)[:, None].expand(6, 2) / 6)
    with pytest.raises(ValueError, match="episodes per image"):
        ram_loss(out, labels, episodes=4)


def _corner_toy(context: bool, seed: int, steps: int = 200) -> float:
    """One glimpse of 4x4 on a 16x16 grey image; the class is the colour (white or black) of a 4x4 square
    in one of the four corners, a different one per image, so the glimpse must be aimed image by image.
    Returns the held-out accuracy of the deterministic episode (chance 0.5)."""
    g = torch.Generator().manual_seed(seed)
    corners = torch.tensor([[1, 1], [1, 11], [11, 1], [11, 11]])  # (4, 2) top-left (row, col) of the square

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 2, (n,), generator=g)
        where = corners[torch.randint(0, 4, (n,), generator=g)]  # (n, 2)
        x = 0.5 + 0.05 * torch.randn(n, 1, 16, 16, generator=g)
        for i, (r, c) in enumerate(where.tolist()):
            x[i, 0, r : r + 4, c : c + 4] = float(y[i])
        return x, y

    torch.manual_seed(seed)
    model = RecurrentAttentionModel(2, glimpse_size=4, glimpses=1, hidden=32, std=0.2, context=context)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(steps):
        x, y = batch(64)
        loss = ram_loss(model(x), y)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x, y = batch(512)
    with torch.no_grad():
        return (model(x).logits.argmax(1) == y).float().mean().item()


def test_the_context_view_lets_reinforce_aim_the_first_glimpse():
    """About 7 s. With the whole-image view the policy learns to put its only glimpse on the square
    (accuracy 1.0 for seeds 0-2 at 300 steps); without it the one glimpse cannot be aimed (chance)."""
    assert min(_corner_toy(True, seed) for seed in (0, 1)) > 0.9
    assert _corner_toy(False, 0) < 0.65


@pytest.mark.parametrize("encoder", ["conv", "conv3", "towers"])
def test_conv_glimpse_networks_run_channels_last_with_the_same_answers(encoder, tmp_path):
    """The conv layers' weights are channels-last (the CPU's NCHW max-pool is several times slower); the
    answers are those of the same weights in the default layout, and a saved state loads back."""
    torch.manual_seed(0)
    model = RecurrentAttentionModel(3, glimpse_size=16, scales=2, glimpses=2, hidden=16, encoder=encoder).eval()
    convs = [m for m in model.what if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    assert not all(m.weight.is_contiguous() for m in convs)  # really the other layout
    plain = RecurrentAttentionModel(3, glimpse_size=16, scales=2, glimpses=2, hidden=16, encoder=encoder).eval()
    plain.what.to(memory_format=torch.contiguous_format)
    plain.load_state_dict(model.state_dict())
    assert all(m.weight.is_contiguous() for m in plain.what if isinstance(m, torch.nn.Conv2d))
    images = torch.rand(4, 1, 40, 40)
    want, got = plain(images, sample=False), model(images, sample=False)
    assert torch.allclose(got.logits, want.logits, atol=1e-5) and torch.allclose(got.locations, want.locations)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    again = RecurrentAttentionModel(3, glimpse_size=16, scales=2, glimpses=2, hidden=16, encoder=encoder).eval()
    again.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    assert torch.equal(again(images, sample=False).logits, got.logits)
