"""Clip backbones (torchvision's 3D CNNs): whole clips in, a temporal head on their time steps, Kinetics
normalisation, weights from torchvision's API or a local file, and what is refused."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import get_model
from torchvision.models.video import R3D_18_Weights, S3D_Weights

from pipeline.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from pipeline.errors import ConfigError
from pipeline.models.clip_backbones import KINETICS_MEAN, KINETICS_STD, MVIT_MEAN, MVIT_STD, ClipBackbone
from pipeline.models.video_classifier import VideoClassifier
from pipeline.models.weights import resolve_torchvision_weights

STATISTICS = {"mvit_v2_s": (MVIT_MEAN, MVIT_STD), "swin3d_t": (IMAGENET_MEAN, IMAGENET_STD)}


@pytest.mark.parametrize(
    ("name", "steps", "head"),
    [("r3d_18", 1, "tsn"), ("mc3_18", 8, "lstm"), ("r2plus1d_18", 1, "transformer"), ("s3d", 1, "lstm"),
     ("mvit_v2_s", 4, "lstm"), ("swin3d_t", 4, "transformer")],
)  # fmt: skip
def test_a_clip_backbone_feeds_a_temporal_head_its_time_steps(name, steps, head):
    torch.manual_seed(0)
    model = VideoClassifier.build(num_classes=4, backbone=name, head=head).eval()
    assert isinstance(model.backbone, ClipBackbone)
    # what its Kinetics weights were trained with
    assert (model.mean, model.std) == STATISTICS.get(name, (KINETICS_MEAN, KINETICS_STD))
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


def test_video_swin_steps_average_to_torchvisions_own_pooled_features():
    """swin3d_t wired as torchvision runs it: the mean of its time steps is torchvision's pooled feature
    (any clip size: Swin pads its windows), and a weights file given by path lands in our stages."""
    torch.manual_seed(2)
    reference = get_model("swin3d_t", weights=None).eval()
    reference.head = torch.nn.Identity()
    model = VideoClassifier.build(num_classes=3, backbone="swin3d_t").eval()
    model.backbone.load_state_dict(_swin_keys(reference.state_dict()))
    clip = torch.randn(1, 6, 3, 40, 56)  # (B, T, C, H, W), normalised
    with torch.no_grad():
        ours = model.backbone(clip)  # (1, 3, 768)
        theirs = reference(clip.permute(0, 2, 1, 3, 4))  # (1, 768)
    assert ours.shape == (1, 3, 768)
    assert torch.allclose(ours.mean(dim=1), theirs, atol=1e-5)


def _swin_keys(state: dict) -> dict:
    """torchvision's swin3d_t names -> ours (stem = patch embedding, four stages with their merges, norm)."""
    stage_of = {0: "stages.0.", 1: "stages.1.0.", 2: "stages.1.1.", 3: "stages.2.0.", 4: "stages.2.1.",
                5: "stages.3.0.", 6: "stages.3.1."}  # fmt: skip
    out = {}
    for key, value in state.items():
        if key.startswith("patch_embed."):
            out["stem.0." + key.removeprefix("patch_embed.")] = value
        elif key.startswith("features."):
            i, rest = key.removeprefix("features.").split(".", 1)
            out[stage_of[int(i)] + rest] = value
        elif key.startswith("norm."):
            out[key] = value
    return out


def test_swin_and_mvit_take_a_weights_file_by_path(tmp_path):
    for name, probe in (("swin3d_t", "features.6.1.mlp.0.weight"), ("mvit_v2_s", "blocks.15.mlp.0.weight")):
        torch.manual_seed(3)
        state = get_model(name, weights=None).state_dict()
        torch.save(state, tmp_path / f"{name}.pth")
        model = VideoClassifier.build(num_classes=3, backbone=name, weights=str(tmp_path / f"{name}.pth"))
        last = model.backbone.stages[3]
        got = last[1][1].mlp[0].weight if name == "swin3d_t" else last[1].mlp[0].weight
        assert torch.equal(got, state[probe])


@pytest.mark.slow
def test_mvit_tokens_at_its_trained_size_are_torchvisions():
    """At 16x224x224 (the size torchvision's MViTv2 is built for) our grid is torchvision's, so the tokens
    after its final norm are the same; our time steps are their means per time slice."""
    torch.manual_seed(4)
    reference = get_model("mvit_v2_s", weights=None).eval()
    model = VideoClassifier.build(num_classes=3, backbone="mvit_v2_s").eval()
    ours_state = model.backbone.state_dict()
    mapped = {}
    for key in ours_state:
        if key.startswith("stem."):
            mapped[key] = reference.state_dict()[key.removeprefix("stem.")]
        elif key.startswith("norm."):
            mapped[key] = reference.state_dict()[key]
    cuts = [0, 1, 3, 14]
    for key in ours_state:
        if key.startswith("stages."):
            s, b, rest = key.removeprefix("stages.").split(".", 2)
            mapped[key] = reference.state_dict()[f"blocks.{cuts[int(s)] + int(b)}.{rest}"]
    model.backbone.load_state_dict(mapped)
    seen = {}
    reference.norm.register_forward_hook(lambda m, i, o: seen.setdefault("tokens", o))
    clip = torch.randn(1, 16, 3, 224, 224)
    with torch.no_grad():
        reference(clip.permute(0, 2, 1, 3, 4))
        ours = model.backbone(clip)  # (1, 8, 768)
    expected = seen["tokens"][:, 1:].reshape(1, 8, 49, 768).mean(dim=2)
    assert torch.allclose(ours, expected, atol=1e-5)
