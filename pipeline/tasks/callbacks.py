"""Training callbacks: throughput and data-loading share, and where the run's outputs went."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch


class DataLoadingMonitor(L.Callback):
    """Logs clips/s, data time and step time per training batch, and the share of time spent waiting
    for data (a high share means more loader workers, or re-encoded videos, are the cure).

    Hand-written because Lightning's own `ThroughputMonitor` (a different thing, hence the other
    name) reports samples and FLOPs per second but not the time spent waiting for the loader, which
    is what tells a video run to add workers. CUDA runs asynchronously: the device is synchronised
    before each clock reading, so that `perf/data_fraction` is true on a GPU too.
    """

    @staticmethod
    def _now(pl_module: L.LightningModule) -> float:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        return time.perf_counter()

    def __init__(self) -> None:
        self._last_end: float | None = None
        self._start = 0.0
        self._data = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_end = self._now(pl_module)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._start = self._now(pl_module)
        self._data = self._start - (self._last_end or self._start)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        end = self._now(pl_module)
        step = end - self._start
        total = max(1e-9, step + self._data)
        n = len(batch)
        pl_module.log("perf/clips_per_s", n / total, on_step=True, on_epoch=True, prog_bar=True, batch_size=max(1, n))
        pl_module.log_dict(
            {"perf/data_time": self._data, "perf/step_time": step, "perf/data_fraction": self._data / total},
            on_step=True, on_epoch=True, batch_size=max(1, n),
        )  # fmt: skip
        self._last_end = end


class AttentionSnapshots(L.Callback):
    """After each validation: for a few fixed validation clips, the temporal attention timeline (key frame
    in red), their key frames, the spatial attention overlays of every attention layer, and the confusion
    matrix; saved as PNG under `<log dir>/attention/epoch_NN/` and sent to W&B when it is one of the loggers."""

    def __init__(self, num_videos: int = 4, every_n_epochs: int = 1) -> None:
        self.num_videos = num_videos
        self.every_n_epochs = every_n_epochs

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from pipeline.models.backbones import Backbone
        from pipeline.models.video_classifier import VideoClassifier

        if not isinstance(getattr(pl_module, "model", None), VideoClassifier):
            return  # another task (the glimpse agent draws its own pictures)
        got = snapshot_batch(trainer, self.num_videos, self.every_n_epochs)
        if got is None:
            return
        batch, out_dir = got
        from pipeline.layers import collect_attention
        from pipeline.viz import confusion_plot, normalise, overlay, save_grid, spatial_map, timeline

        model = pl_module.model
        was_training = model.training
        model.eval()
        with torch.no_grad():
            video = batch.video.to(pl_module.device)
            if video.dim() == 6:  # multi-crop: look at the first crop
                video = video[:, 0]
            out = model(video)
            frames = video.flatten(0, 1)  # (B*T, C, H, W)
            from pipeline.data.transforms import normalize

            feats = (  # a clip backbone (3D) has no per-frame attention layers to draw
                model.backbone.forward_features(normalize(frames, model.mean, model.std), return_stages=True)
                if isinstance(model.backbone, Backbone)
                else None
            )
        model.train(was_training)
        images: dict[str, list[Path]] = {"timeline": [], "spatial": []}
        names = pl_module.class_names
        t = video.shape[1]
        for b in range(len(batch)):
            pred = int(out.logits[b].argmax())
            label = batch.label[b]
            true = names[int(label)] if label.ndim == 0 and int(label) >= 0 else "-"  # multi-label: top class only
            title = f"{batch.video_id[b]}: true {true}, predicted {names[pred]}"
            idx = batch.frame_indices[b].tolist()
            images["timeline"].append(
                timeline(video[b].cpu(), out.attention[b].cpu(), idx, title, out_dir / f"timeline_{b}.png")
            )
        # Key frames: the clip's most-attended frames, in time order (what `vap summarize` would keep).
        k = min(3, t)
        keys = [sorted(out.attention[b].topk(k).indices.tolist()) for b in range(len(batch))]
        images["key_frames"] = [
            save_grid(
                [[video[b, i].permute(1, 2, 0).cpu().numpy() for i in keys[b]] for b in range(len(batch))],
                [str(v) for v in batch.video_id], [f"key frame {j + 1}" for j in range(k)], out_dir / "key_frames.png",
                caption="each row: the clip's most-attended frames, in time order",
            )
        ]  # fmt: skip
        rows, titles = [], []
        for name, maps in collect_attention(model.backbone).items() if feats is not None else ():
            got = spatial_map(maps, feats.stages[int(name.split(".")[-1])])
            if got is None:
                continue
            heat = normalise(got[0]).cpu()  # (B*T, h, w)
            rows.append([overlay(frames[i].cpu(), heat[i]) for i in range(0, min(len(frames), t))])
            titles.append(f"{name}: {got[1]}")
        if rows:
            images["spatial"].append(
                save_grid(
                    rows, titles, [f"frame {i}" for i in batch.frame_indices[0].tolist()], out_dir / "spatial.png"
                )
            )
        if getattr(pl_module, "last_confusion", None) is not None:
            images["confusion"] = [confusion_plot(pl_module.last_confusion, names, out_dir / "confusion.png")]
        send_images(trainer, images)


def snapshot_batch(trainer: L.Trainer, num_videos: int, every_n_epochs: int) -> tuple[Any, Path] | None:
    """A few fixed validation clips (evenly spread over the split) and this epoch's picture folder,
    `<log dir>/attention/epoch_NN/`; None when not due, not rank 0, or there is nothing to show."""
    if trainer.sanity_checking or trainer.current_epoch % every_n_epochs:
        return None
    # `trainer.log_dir` is a broadcast under DDP: every rank must ask for it, not rank 0 alone.
    log_dir = trainer.log_dir or trainer.default_root_dir
    if not trainer.is_global_zero:
        return None
    ds = getattr(trainer.datamodule, "datasets", {}).get("val")
    if ds is None or len(ds) == 0:
        return None
    from pipeline.data.dataset import VideoSample, collate_videos

    step = max(1, len(ds) // num_videos)
    items = [ds[i] for i in range(0, len(ds), step)[:num_videos]]
    batch = collate_videos([s for s in items if isinstance(s, VideoSample)])
    if len(batch) == 0:
        return None
    return batch, Path(log_dir) / "attention" / f"epoch_{trainer.current_epoch:02d}"


def write_frames_viewed(trainer: L.Trainer, counts: torch.Tensor, path: Path) -> None:
    """`counts[n]`: validation videos the agent looked at n frames of; as JSON (atomically) and to W&B."""
    from pipeline.data.records import write_atomic

    videos = int(counts.sum())
    mean = round(float((counts * torch.arange(len(counts))).sum()) / videos, 4) if videos else None
    record = {"videos": videos, "mean": mean, "histogram": {str(n): int(c) for n, c in enumerate(counts)}}
    write_atomic(path, json.dumps(record, indent=1) + "\n")  # makes the folder too
    for logger in trainer.loggers:
        if type(logger).__name__ == "WandbLogger" and videos:
            import wandb

            table = wandb.Table(data=[[n, int(c)] for n, c in enumerate(counts)], columns=["frames viewed", "videos"])
            chart = wandb.plot.bar(table, "frames viewed", "videos", title="frames viewed per validation video")
            logger.log_metrics({"val/frames_viewed": chart}, step=trainer.global_step)


def send_images(trainer: L.Trainer, images: dict[str, list[Path]]) -> None:
    """The pictures to W&B as `val/<key>`, when a WandbLogger is one of the loggers."""
    for logger in trainer.loggers:
        if type(logger).__name__ == "WandbLogger":
            for key, paths in images.items():
                if paths:
                    logger.log_image(key=f"val/{key}", images=[str(p) for p in paths], step=trainer.global_step)


class GlimpseTrajectories(L.Callback):
    """After each validation of a glimpse agent: where it looked in a few fixed validation clips (the frames
    looked at boxed and numbered in order, see `pipeline.viz.glimpse_trajectories`), saved as
    `<log dir>/attention/epoch_NN/glimpses.png`, and how many frames each validation video took (all ranks
    pooled) as `frames_viewed.json`; both go to W&B (`val/glimpses`, `val/frames_viewed`) when it is a logger."""

    def __init__(self, num_videos: int = 6, every_n_epochs: int = 1) -> None:
        self.num_videos = num_videos
        self.every_n_epochs = every_n_epochs
        self.counts: torch.Tensor | None = None  # (max_glimpses + 1,) videos that viewed n frames

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.counts = None

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:  # fmt: skip
        if not isinstance(outputs, dict) or "viewed" not in outputs:
            return
        n = pl_module.model.agent.max_glimpses
        counts = torch.bincount(outputs["viewed"].detach().long().cpu(), minlength=n + 1)  # (n + 1,)
        self.counts = counts if self.counts is None else self.counts + counts

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from pipeline.models.glimpse_video import GlimpseVideoModel

        model = getattr(pl_module, "model", None)
        if not isinstance(model, GlimpseVideoModel):
            return
        counts = self.counts if self.counts is not None else torch.zeros(model.agent.max_glimpses + 1, dtype=torch.long)
        if trainer.world_size > 1:  # every rank takes part; a fixed length, so the shards stack
            counts = pl_module.all_gather(counts.to(pl_module.device)).sum(0).cpu()
        got = snapshot_batch(trainer, self.num_videos, self.every_n_epochs)
        if got is None:
            return
        batch, out_dir = got
        write_frames_viewed(trainer, counts, out_dir / "frames_viewed.json")
        from pipeline.viz import glimpse_trajectories

        video = batch.video.to(pl_module.device)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            out = model(video)
        model.train(was_training)
        names = getattr(pl_module, "class_names", None) or [str(i) for i in range(out.logits.shape[1])]
        titles, looked = [], []
        for b in range(len(batch)):
            label = int(batch.label[b])
            true = names[label] if label >= 0 else "-"
            pred = names[int(out.logits[b].argmax())]
            titles.append(f"{batch.video_id[b]}\ntrue {true}\npredicted {pred}")
            looked.append(out.frames[b, : int(out.viewed[b])].tolist())
        where = {}  # pixel mode: each glimpse's finest patch where it was taken; features: the whole frame
        if not model.agent.features_mode:
            where = {"locations": list(out.locations.cpu()), "box": model.agent.glimpse_size / video.shape[-1]}
        path = glimpse_trajectories([v.cpu() for v in video], looked, titles, out_dir / "glimpses.png", **where)
        send_images(trainer, {"glimpses": [path]})
