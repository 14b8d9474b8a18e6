"""Training options that matter most on a GPU, exercised on the CPU: bf16-mixed, channels-last, compile;
and the checkpoint holding each weight once."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from pipeline.data.dataset import VideoBatch
from pipeline.tasks.classification import VideoClassificationTask

B, T, C, H, W = 4, 4, 3, 32, 32


def batches(n: int = 3) -> list[VideoBatch]:
    g = torch.Generator().manual_seed(0)
    return [
        VideoBatch(
            torch.randint(0, 256, (B, T, C, H, W), dtype=torch.uint8, generator=g),
            torch.randint(0, 3, (B,), generator=g),
            [f"v{i}_{b}" for b in range(B)],
            torch.zeros(B, dtype=torch.long),
            torch.arange(T).repeat(B, 1),
        )
        for i in range(n)
    ]


def loader() -> DataLoader:
    return DataLoader(batches(), batch_size=None)


def task(**kw) -> VideoClassificationTask:
    return VideoClassificationTask(num_classes=3, head="transformer", head_args={"dim": 32, "depth": 1}, **kw)


def fit(model: VideoClassificationTask, **trainer_kw) -> L.Trainer:
    trainer = L.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, **trainer_kw,
    )  # fmt: skip
    trainer.fit(model, train_dataloaders=loader())
    return trainer


def test_bf16_mixed_and_channels_last_train_on_cpu():
    model = task(channels_last=True)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    before = [p.detach().clone() for p in model.parameters()]
    seen = []
    model.on_train_batch_end = lambda outputs, *_: seen.append(outputs["loss"].detach())  # type: ignore[method-assign]
    fit(model, precision="bf16-mixed")
    assert len(seen) == 3 and all(torch.isfinite(x) for x in seen)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # mixed: the weights stay float32
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # it learned


def same_as_default(atol: float, **options) -> VideoClassificationTask:
    """A task built with `options`, given the default task's weights: asserts equal outputs, returns it."""
    torch.manual_seed(0)
    default = task().eval()
    other = task(**options).eval()
    other.load_state_dict(default.state_dict())
    video = batches(1)[0].video
    with torch.no_grad():
        assert torch.allclose(default(video).logits, other(video).logits, atol=atol)
    return other


def test_channels_last_gives_the_same_outputs():
    same_as_default(1e-5, channels_last=True)


@pytest.mark.parametrize("compile", [False, True])
def test_checkpoint_holds_each_weight_once(compile):
    keys = list(task(compile=compile).state_dict())
    assert keys and all(k.startswith("model.") for k in keys)


def test_old_checkpoints_with_duplicated_weights_still_load():
    model = task()
    state = dict(model.state_dict())
    state.update({"forward_model." + k[len("model.") :]: v for k, v in model.state_dict().items()})
    ckpt = {"state_dict": state}
    model.on_load_checkpoint(ckpt)
    task().load_state_dict(ckpt["state_dict"])  # strict: no unexpected keys left


@pytest.mark.slow
def test_compiled_model_trains_and_matches_eager():
    """torch.compile (inductor, needs a C++ compiler on the CPU): same outputs as eager, and it trains."""
    fit(same_as_default(1e-4, compile=True).train())
