"""`--model.init_from`: another run's backbone, attention and temporal head, a new classifier for a new
class list, and a refusal, naming the tensor, of anything else that does not fit."""

from __future__ import annotations

import pytest
import torch
from conftest import train_tiny_checkpoint

from pipeline.errors import ConfigError
from pipeline.models.checkpoint import init_from_checkpoint, load_model
from pipeline.models.video_classifier import VideoClassifier
from pipeline.tasks.classification import VideoClassificationTask

ARCH = {"backbone": "tiny", "head": "tsn", "head_args": {"consensus": "attention"}}


@pytest.fixture(scope="module")
def six_class_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("init_from")
    return train_tiny_checkpoint(root, make_args={"num_train": 6, "num_val": 3, "num_test": 3}, num_segments=4)


def test_a_new_class_list_keeps_everything_but_the_classifier(six_class_checkpoint):
    task = VideoClassificationTask(num_classes=3, init_from=str(six_class_checkpoint), **ARCH)
    trained, _ = load_model(six_class_checkpoint)
    own, theirs = task.model.state_dict(), trained.state_dict()
    for key in own:
        if key.startswith("head.fc."):
            assert own[key].shape[0] == 3 and theirs[key].shape[0] == 6  # rebuilt for 3 classes
        else:
            assert torch.equal(own[key], theirs[key]), key  # backbone, attention pooling: as trained
    fresh = VideoClassificationTask(num_classes=3, **ARCH).model.state_dict()
    conv = next(k for k in own if k.startswith("backbone.") and own[k].dim() == 4)
    assert not torch.equal(fresh[conv], own[conv])  # without init_from: a network of its own


def test_the_report_says_what_was_loaded_new_and_dropped(six_class_checkpoint):
    model = VideoClassifier.build(num_classes=4, **ARCH)
    report = init_from_checkpoint(model, six_class_checkpoint)
    assert report.new == ["head.fc.weight", "head.fc.bias"] and report.dropped == [] and len(report.loaded) > 4
    line = report.summary(six_class_checkpoint)
    assert f"init_from {six_class_checkpoint}: loaded {len(report.loaded)} tensors" in line and "new: head.fc" in line


def test_a_plain_state_dict_works_too(six_class_checkpoint, tmp_path):
    trained, _ = load_model(six_class_checkpoint)
    torch.save(trained.state_dict(), tmp_path / "plain.pt")
    model = VideoClassifier.build(num_classes=6, **ARCH)
    assert init_from_checkpoint(model, tmp_path / "plain.pt").new == []  # the same classes: every tensor loads
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), trained.state_dict().values(),
                                                  strict=True))  # fmt: skip


def test_another_architecture_is_refused_naming_the_tensor(six_class_checkpoint):
    with pytest.raises(ConfigError, match=r"has no 'head\.lstm\.|only the classifier may differ|has no 'head"):
        VideoClassificationTask(num_classes=3, backbone="tiny", head="lstm", init_from=str(six_class_checkpoint))


def test_the_recommended_start_keeps_the_loaded_backbone_frozen_and_trains_the_rest(six_class_checkpoint):
    """`--model.init_from CKPT --model.freeze all` (docs/training.md): the backbone is the source's and takes
    no gradient; the temporal head and the new classifier do."""
    task = VideoClassificationTask(num_classes=3, init_from=str(six_class_checkpoint), freeze="all", **ARCH)
    trained, _ = load_model(six_class_checkpoint)
    theirs = trained.state_dict()
    backbone = dict(task.model.backbone.named_parameters())
    assert backbone and not any(p.requires_grad for p in backbone.values())
    assert all(torch.equal(p, theirs[f"backbone.{k}"]) for k, p in backbone.items())
    assert all(p.requires_grad for p in task.model.head.parameters())
    x = torch.rand(2, 4, 3, 32, 32)
    task.model(x).logits.sum().backward()  # (B, 3)
    assert all(p.grad is None for p in backbone.values()) and task.model.head.fc.weight.grad is not None
