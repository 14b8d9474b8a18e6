"""LightningDataModule over annotation files: the one place that turns config into loaders."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader

from pipeline.data.annotations import Annotations, read_annotations
from pipeline.data.dataset import FailureTracker, VideoBatch, VideoDataset, collate_videos
from pipeline.data.epochs import EpochLoader, EpochSampler
from pipeline.data.records import write_atomic
from pipeline.data.samplers import ClipSampler, build_sampler
from pipeline.data.transforms import IMAGENET_MEAN, IMAGENET_STD, Compose, build_transforms, default_transforms
from pipeline.errors import ConfigError


def local_rank() -> int:
    """This process's rank on its node, from the variables launchers set (torchrun and Lightning's
    launcher: LOCAL_RANK; SLURM: SLURM_LOCALID); 0 when started alone. Read from the environment
    because the data is prepared before torch.distributed is initialised."""
    for name in ("LOCAL_RANK", "SLURM_LOCALID"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def wait_for(path: Path, *, timeout: float, poll: float = 1.0) -> None:
    """Block until `path` exists; fail with a message after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: rank 0 did not finish making the data within {timeout:g} s")
        time.sleep(poll)


def default_num_workers() -> int:
    """One worker per core, at most 8, leaving the main process a core when there are several."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(8, cores - 1))


class VideoDataModule(L.LightningDataModule):
    """Train/val/test video loaders from annotation files in any registered format.

    `train`, `val`, `test` are annotation sources (a list file, a CSV, a split folder, ...) read with
    `fmt`; `root` is where the videos are. Class names come from the training annotations and are
    kept in `class_names` (and in the checkpoint, through the task's hyper-parameters). With `make`
    (e.g. `moving-digits`), a built-in dataset is generated into the folder of `train` on first use.
    """

    def __init__(
        self,
        *,
        train: str | None = None,
        val: str | None = None,
        test: str | None = None,
        fmt: str = "list",
        root: str | None = None,
        split: int = 1,
        class_names_file: str | None = None,
        sampler: str = "tsn",
        sampler_args: dict[str, Any] | None = None,
        size: int = 112,
        flip: bool = True,
        test_clips: int = 1,
        test_three_crop: bool = False,
        train_transforms: list[Any] | None = None,
        eval_transforms: list[Any] | None = None,
        backend: str = "auto",
        batch_size: int = 8,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        seed: int = 0,
        max_bad_rate: float = 0.05,
        make: str | None = None,
        make_args: dict[str, Any] | None = None,
        read_args: dict[str, Any] | None = None,
        loader_timeout: float = 600.0,
        device: str = "cpu",
    ) -> None:
        """`device`: where videos are decoded: "cpu", or "cuda" for TorchCodec on the GPU (NVDEC; the main
        process decodes, so `num_workers` must be 0; untested by us on a GPU)."""
        super().__init__()
        for key, value in (("size", size), ("batch_size", batch_size), ("test_clips", test_clips)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"data.{key} must be a whole number of at least 1, got {value!r}")
        if num_workers is not None and (isinstance(num_workers, bool) or num_workers < 0):
            raise ConfigError(f"data.num_workers must be 0 or more, got {num_workers!r}")
        if not 0 <= max_bad_rate <= 1 or loader_timeout <= 0:
            raise ConfigError("data.max_bad_rate must be in [0, 1] and data.loader_timeout above 0")
        self.device = _decode_device(device, num_workers)
        self.save_hyperparameters()
        self.sources = {"train": train, "val": val, "test": test}
        self.fmt, self.root, self.split = fmt, root, split
        self.class_names_file = class_names_file
        self.sampler: ClipSampler = build_sampler(sampler, **(sampler_args or {}))
        self.train_tf = (
            build_transforms(train_transforms)
            if train_transforms
            else default_transforms(size, training=True, flip=flip)
        )
        self.eval_tf: Compose = (
            build_transforms(eval_transforms) if eval_transforms else default_transforms(size, training=False)
        )
        # The test split may use the multi-view protocol: `test_clips` clips x 3 crops, averaged per video.
        if test_clips > 1 and not hasattr(self.sampler, "test_clips"):
            raise ConfigError(f"data.test_clips: the {sampler} sampler has a single clip per video; use tsn or dense")
        self.test_sampler = replace(self.sampler, test_clips=test_clips) if test_clips > 1 else self.sampler
        self.test_tf = default_transforms(size, training=False, three_crop=True) if test_three_crop else self.eval_tf
        self.backend = backend
        self.batch_size = batch_size
        self.num_workers = (
            (0 if self.device != "cpu" else default_num_workers()) if num_workers is None else num_workers
        )
        on_host = self.device == "cpu"  # frames decoded on the GPU are there already
        self.pin_memory = (on_host and torch.cuda.is_available()) if pin_memory is None else pin_memory
        self.seed = seed
        self.make, self.make_args = make, make_args
        self.prepare_timeout = 3600.0  # how long other ranks wait for rank 0 to make the data
        self._prepared = False
        self.read_args = dict(read_args or {})
        # A loader worker stuck in native code (a decoder that hangs holding the GIL, decord#373) fails
        # the run with torch's "DataLoader timed out after N seconds" instead of hanging it.
        self.loader_timeout = loader_timeout
        # Bad videos: training stops past `max_bad_rate`; evaluation only records (never substitutes).
        self.train_failures = FailureTracker(max_rate=max_bad_rate)
        self.eval_failures = FailureTracker(max_rate=1.0)
        self.annotations: dict[str, Annotations] = {}
        self.datasets: dict[str, VideoDataset] = {}

    # ------------------------------------------------------------------------------------------------
    def _made_marker(self) -> Path:
        """`<data dir>/.vap-made-<digest>`: written last, atomically, once the maker returned a complete
        dataset for exactly these parameters; the other processes of a run wait for it."""
        key = json.dumps([self.make, self.seed, self.make_args or {}], sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return Path(self.sources["train"]).parent / f".vap-made-{digest}"

    def prepare_data(self) -> None:
        """Make a built-in dataset (`make: moving-digits`) into the folder of `train` unless it is complete.

        The maker checks the folder's own manifest (a killed run's half-written folder is regenerated,
        not trusted because `train.txt` exists). Under DDP only local rank 0 makes it, under a file lock
        (two runs on one folder take turns); the other ranks wait for the marker it writes last.
        """
        train = self.sources["train"]
        if not self.make or train is None or self._prepared:
            return
        self._prepared = True
        from filelock import FileLock

        from pipeline.data.makers import DATA_MAKERS

        marker = self._made_marker()
        if local_rank() != 0:
            wait_for(marker, timeout=self.prepare_timeout)
            return
        out = Path(train).parent
        out.mkdir(parents=True, exist_ok=True)
        with FileLock(str(out.parent / f".{out.name}.lock")):
            marker.unlink(missing_ok=True)  # from here until the maker returns the folder is not to be trusted
            DATA_MAKERS.build(self.make, out=out, seed=self.seed, progress=True, **(self.make_args or {}))
            write_atomic(marker, "complete\n")  # readers see all of it or nothing

    def read(self, stage: str) -> Annotations | None:
        source = self.sources[stage]
        if source is None:
            return None
        if stage not in self.annotations:
            self.prepare_data()  # the class names are needed before Lightning would call it
            names: list[str] | Path | None = Path(self.class_names_file) if self.class_names_file else None
            if stage != "train" and "train" in self.annotations:
                names = self.annotations["train"].class_names
            self.annotations[stage] = read_annotations(
                self.fmt, source, root=self.root, split=self.split,
                subset="train" if stage == "train" else "test", class_names=names, **self.read_args,
            )  # fmt: skip
        return self.annotations[stage]

    @property
    def class_names(self) -> list[str]:
        for stage in ("train", "val", "test"):
            ann = self.read(stage)
            if ann is not None:
                return ann.class_names
        raise ConfigError("no annotation source given (train, val or test)")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def multilabel(self) -> bool:
        """Multi-hot targets (a list file with several labels per line), decided by the data: the first
        split given (training, if any) says which; the task picks its loss and metrics from it."""
        for stage in ("train", "val", "test"):
            ann = self.read(stage)
            if ann is not None and ann.records:
                return ann.multilabel
        return False

    @property
    def clip_len(self) -> int:
        """Frames in one clip (the sampler's); linked to the glimpse task's `num_frames`."""
        return self.sampler.clip_len

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        multilabel = self.multilabel
        for split in wanted.get(stage or "", ("train", "val", "test")):
            ann = self.read(split)
            if ann is None or split in self.datasets:
                continue
            training = split == "train"
            sampler = self.test_sampler if split == "test" else self.sampler
            transform = {"train": self.train_tf, "val": self.eval_tf, "test": self.test_tf}[split]
            self.datasets[split] = VideoDataset(
                ann.records, sampler=sampler, transform=transform, training=training, backend=self.backend,
                num_classes=len(ann.class_names), seed=self.seed, multilabel=multilabel, device=self.device,
            )  # fmt: skip

    def _loader(self, split: str, *, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            self.setup(None)
        if split not in self.datasets:
            raise ConfigError(f"no {split} annotations were given to the data module")
        dataset = self.datasets[split]
        sampler: Any = None
        if split == "train":
            # The epoch travels with each index to the workers, which can then persist (EpochSampler).
            trainer = self.trainer  # None outside a Trainer: one process, or the process group's
            replicas = {"num_replicas": trainer.world_size, "rank": trainer.global_rank} if trainer else {}
            sampler, shuffle = EpochSampler(dataset, shuffle=shuffle, seed=self.seed, **replicas), False
        elif dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # Evaluation under DDP: each clip on one process only (uneven shards), so that each video's
            # clips are summed once (Lightning's default sampler would pad the shards with repeats).
            sampler = UnrepeatedDistributedSampler(dataset, shuffle=False)
        return (EpochLoader if split == "train" else DataLoader)(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            sampler=sampler,
            num_workers=self.num_workers,
            timeout=self.loader_timeout if self.num_workers > 0 else 0,
            pin_memory=self.pin_memory,
            collate_fn=collate_videos,
            # Kept across epochs: training clips carry their epoch (EpochSampler), evaluation has none.
            persistent_workers=self.num_workers > 0,
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        """`vap predict` runs over the test annotations (labels optional)."""
        return self._loader("test", shuffle=False)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return (
            batch.to(device, non_blocking=True)
            if hasattr(batch, "to")
            else super().transfer_batch_to_device(batch, device, dataloader_idx)
        )

    def preprocessing(self) -> dict[str, Any]:
        """How clips are made for evaluation, saved in checkpoints so inference can repeat it."""
        hp = self.hparams
        return {
            "sampler": hp.sampler,
            "sampler_args": dict(hp.sampler_args or {}),
            "size": hp.size,
            "test_clips": hp.test_clips,
            "test_three_crop": hp.test_three_crop,
            "eval_transforms": hp.eval_transforms,
            "backend": self.backend,
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
        }

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if isinstance(batch, VideoBatch):
            trainer = getattr(self, "trainer", None)
            training = trainer is None or trainer.training
            (self.train_failures if training else self.eval_failures).update(batch)
        return batch


def _decode_device(device: str, num_workers: int | None) -> str:
    """`data.device`, checked: a device torch knows and has here; a GPU one decoded in the main process."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ConfigError(f"data.device: {device!r} is not a device (cpu, cuda, cuda:1)") from e
    if parsed.type == "cpu":
        return "cpu"
    if parsed.type != "cuda":
        raise ConfigError(f"data.device: {device!r}; videos decode on cpu or cuda (TorchCodec)")
    if not torch.cuda.is_available():
        raise ConfigError(f"data.device: {device!r}, but there is no CUDA device here; use cpu")
    if num_workers:
        raise ConfigError("data.device cuda decodes in the main process (CUDA does not survive the fork of a "
                          "loader worker): set data.num_workers 0")  # fmt: skip
    return str(parsed)
