"""`data.device`: decoding on a GPU with TorchCodec where there is one; checked and refused in one line where
there is not. The plumbing is tested here on the CPU; the decoding itself only where CUDA is present."""

from __future__ import annotations

import pytest
import torch
from video_corpus import read_number

from pipeline.data.backends import open_video
from pipeline.data.datamodule import VideoDataModule
from pipeline.errors import ConfigError

NO_CUDA = not torch.cuda.is_available()


@pytest.mark.skipif(not NO_CUDA, reason="checks the refusal on a machine without CUDA")
def test_a_gpu_device_without_cuda_is_one_line():
    with pytest.raises(ConfigError, match="no CUDA device here"):
        VideoDataModule(train="t.txt", device="cuda")


@pytest.mark.parametrize(("device", "message"), [("gpu", "is not a device"), ("mps", "decode on cpu or cuda")])
def test_a_device_that_decodes_nothing_is_one_line(device, message):
    with pytest.raises(ConfigError, match=message):
        VideoDataModule(train="t.txt", device=device)


def test_torchcodec_is_asked_to_decode_on_the_device_and_a_declined_file_is_moved_there(corpus, monkeypatch):
    """Without a GPU: TorchCodec's decoder is handed the device (and decodes on the CPU here), and a file it
    declines (AVI) is decoded by PyAV and its frames moved to the device; `meta` stands for one here."""
    import torchcodec.decoders

    asked = []
    real = torchcodec.decoders.VideoDecoder

    def recording(path, **kwargs):
        asked.append(kwargs.pop("device"))
        return real(path, **kwargs)

    monkeypatch.setattr(torchcodec.decoders, "VideoDecoder", recording)
    moved = []
    real_to = torch.Tensor.to
    monkeypatch.setattr(torch.Tensor, "to", lambda self, *a, **k: moved.append(a) or real_to(self, *a, **k))
    with open_video(corpus["mkv_h264"][0], "auto", device="meta") as r:
        assert r.backend == "torchcodec"  # first on a device, whatever the CPU order
        r.get_frames([3])
    assert asked == ["meta"]
    moved.clear()  # (TorchCodec decoded on the CPU here, under the recording stand-in: its frames were moved too)
    with open_video(corpus["avi_mpeg4"][0], "auto", device="meta") as r:
        frames = r.get_frames([3])
        assert r.backend == "pyav" and frames.device.type == "meta" and moved == [("meta",)]


@pytest.mark.skipif(NO_CUDA, reason="no CUDA device here: GPU decoding is untested by us (see docs/data.md)")
def test_frames_decoded_on_the_gpu_are_the_cpus(corpus):
    path, truth = corpus["mp4_h264_bframes"]
    with open_video(path, "auto", device="cuda") as r:
        frames = r.get_frames([40, 3, 17])
    assert frames.device.type == "cuda"
    assert [read_number(f) for f in frames.cpu()] == [truth[40], truth[3], truth[17]]
