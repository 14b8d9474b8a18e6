"""Attention importance over sliding windows, worked out by hand, and which heads have an attention."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from pipeline.inference.summarize.attention import CheckpointAttention, head_attention_problem
from pipeline.models.heads.base import HeadOutput


class ProportionalHead(torch.nn.Module):
    """Attention proportional to each frame's one feature value."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> HeadOutput:
        a = x[..., 0] / x[..., 0].sum(dim=1, keepdim=True)  # (N, L)
        return HeadOutput(torch.zeros(x.shape[0], 2), a)


def test_sliding_windows_hand_worked():
    # frames 1..5, windows of 3: [1,2,3] [2,3,4] [3,4,5]; times L=3: [.5,1,1.5] [2/3,1,4/3] [.75,1,1.25]
    # per frame mean over its windows: .5, 5/6, 13/12, 7/6, 1.25; over the max 1.25:
    model = SimpleNamespace(head=ProportionalHead())
    att = CheckpointAttention(model=model, transform=None, clip_len=3, settings={})
    scores = att.scores(torch.arange(1.0, 6.0)[:, None], chunk=2)  # chunks split the windows: same answer
    assert scores.tolist() == pytest.approx([0.4, 2 / 3, 13 / 15, 14 / 15, 1.0])
    # shorter than one clip: one window of what there is
    assert att.scores(torch.tensor([[1.0], [3.0]])).tolist() == pytest.approx([1 / 3, 1.0])


@pytest.mark.parametrize(
    ("head", "args", "ok"),
    [("tsn", {}, False), ("tsn", {"consensus": "max"}, False), ("tsn", {"consensus": "attention"}, True),
     ("lstm", {}, True), ("transformer", {"pool": "cls"}, True)],
)  # fmt: skip
def test_which_heads_have_a_temporal_attention(head, args, ok):
    assert (head_attention_problem({"head": head, "head_args": args}) is None) == ok
