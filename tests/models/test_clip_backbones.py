"""Clip backbones (torchvision's 3D CNNs): whole clips in, a temporal head on their time steps, Kinetics
normalisation, weights from torchvision's API or a local file, and what is refused."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import get_model
from torchvision.models.video import R3D_18_Weights, S3D_Weights

from pipeline.errors import ConfigError
from pipeline.models.clip_backbones import KINETICS_MEAN, KINETICS_STD, ClipBackbone
from pipeline.models.video_classifier import VideoClassifier
from pipeline.models.weights import resolve_torchvision_weights


@pytest.mark.parametrize(
    ("name", "steps", "head"),
    [("r3d_18", 1, "tsn"), ("mc3_18", 8, "lstm"), ("r2plus1d_18", 1, "transformer"), ("s3d", 1, "lstm")],
)
def test_a_clip_backbone_feeds_a_temporal_head_its_time_steps(name, steps, head):
    torch.manual_seed(0)
    model = VideoClassifier.build(num_classes=4, backbone=name, head=head).eval()
    assert isinstance(model.backbone, ClipBackbone)
    assert (model.mean, model.std) == (KINETICS_MEAN, KINETICS_STD)  # what its Kinetics weights expect
    video = torch.randint(0, 256, (2, 8, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        feats = model.frame_features(video)  # (B, T', D)
        out = model(video)
    assert feats.shape == (2, steps, model.backbone.out_channels)
    assert out.logits.shape == (2, 4) and out.embedding is not None
    assert out.attention.shape == (2, 8)  # each step's attention shared among the frames it pooled
    assert torch.allclose(out.attention.sum(dim=1), torch.ones(2))
    model.backbone.train()  # batch statistics: S3D's randomly initialised layers are all but zero in eval mode
    with torch.no_grad():  # the 3D convolutions see the frames' order (a per-frame CNN with TSN would not)
        assert not torch.allclose(model.frame_features(video.flip(1)), model.frame_features(video))


def test_weights_come_from_torchvision_by_dataset_name_or_from_a_local_file(tmp_path):
    assert resolve_torchvision_weights("r3d_18", "kinetics400") is R3D_18_Weights.KINETICS400_V1
    assert resolve_torchvision_weights("s3d", "KINETICS400_V1") is S3D_Weights.KINETICS400_V1
    with pytest.raises(ConfigError, match="has no imagenet weights"):
        resolve_torchvision_weights("r3d_18", "imagenet")
    torch.manual_seed(1)
    state = get_model("r3d_18", weights=None).state_dict()
    path = tmp_path / "r3d_18_kinetics.pth"
    torch.save(state, path)
    model = VideoClassifier.build(num_classes=3, backbone="r3d_18", weights=str(path))
    assert torch.equal(model.backbone.stem[0].weight, state["stem.0.weight"])
    assert torch.equal(model.backbone.stages[3][1].conv2[0].weight, state["layer4.1.conv2.0.weight"])


def test_what_a_clip_backbone_refuses_is_one_line():
    with pytest.raises(ConfigError, match="per-frame 2D; r3d_18 is a 3D clip backbone"):
        VideoClassifier.build(num_classes=3, backbone="r3d_18", attention="se")
    with pytest.raises(ConfigError, match="partial_bn"):
        VideoClassifier.build(num_classes=3, backbone="r3d_18", partial_bn=True)
    with pytest.raises(ConfigError, match="per clip, not per frame"):
        VideoClassifier.build(num_classes=3, backbone="r3d_18", cache_features=True)
    model = VideoClassifier.build(num_classes=3, backbone="r3d_18").eval()
    mask = torch.ones(1, 8, dtype=torch.bool)
    mask[:, 6:] = False
    with pytest.raises(ConfigError, match="not padded ones"):
        model(torch.zeros(1, 8, 3, 32, 32, dtype=torch.uint8), mask)


def test_freezing_a_clip_backbone_keeps_its_frozen_stages_and_statistics():
    model = VideoClassifier.build(num_classes=3, backbone="r3d_18", freeze=2)
    frozen = [model.backbone.stem, *model.backbone.stages[:2]]
    assert not any(p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for p in model.backbone.stages[2].parameters())
    model.train()
    assert not model.backbone.stem.training and model.backbone.stages[2].training
