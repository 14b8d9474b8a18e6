"""`moving-digits`: the built-in labelled video dataset, whose classes can only be told apart in time.

Each video moves or zooms one real handwritten digit (scikit-learn's `load_digits()`, 8x8 images)
on a small noisy canvas. The classes come in pairs that differ only in the direction of time
(right/left, down/up, zoom in/out): the second class of a pair is the first one played backwards, so
the frames of a video, taken as a set, are equally likely under both classes. An order-blind average
of per-frame features is therefore at chance within each pair, and only a temporal model (LSTM,
transformer over frames) can get the pairs right. The digit's identity is a distractor.

    digit pool (split by image) -> pose path (centre, size per frame) -> bilinear resample -> tint, noise -> mp4

The `sparse` variant shows the motion in only `informative_frames` consecutive frames at a random
point in time, so the class lives in those few frames alone (a test for temporal attention). The other
frames are `distractor`s: `empty` (the default) shows the noisy background alone, as a video whose
action fills a few frames; `still` holds the same digit still at an unrelated random pose, which no
single frame can tell from a moving one (only the frames around it can). `classes` picks the class
list from `MOTIONS` (the six above and a diagonal pair), for a dataset of classes a model has not seen
(fine-tuning with `--model.init_from`). Written layout, under `DIR`:

    videos/<split>/<class_name>/<split>_<nnnnn>.mp4   H.264, `size`x`size`, `frames` frames at `fps`
    videos/<split>/meta.json                          video id (file stem) -> informative frame indices
    train.txt, val.txt, test.txt                      `videos/.../x.mp4 <label>`, paths relative to DIR
    classes.txt                                       one class name per line, line index = label
    PROVENANCE.md, manifest.json                      source, licence, seed and parameters

`make_moving_digits` is idempotent: a directory whose `manifest.json` records a finished run with
the same parameters is returned untouched. A directory made by this generator with other parameters
(or left unfinished) is regenerated. A non-empty directory that this generator did not make is
refused unless `overwrite=True` (which then replaces only the paths listed above), so that a
mistyped `--out` cannot delete someone's data.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.data.records import write_atomic
from pipeline.data.writer import write_video
from pipeline.errors import ConfigError
from pipeline.registry import Registry

CLASS_NAMES: tuple[str, ...] = ("move_right", "move_left", "move_down", "move_up", "zoom_in", "zoom_out")
# Every motion the maker can draw, as (path axis, played backwards): the six classes above, then a diagonal pair
# that no default dataset holds (`classes=` picks any of them: a class list the default model never saw).
MOTIONS: dict[str, tuple[int, bool]] = {
    **{name: (i // 2, bool(i % 2)) for i, name in enumerate(CLASS_NAMES)},
    "move_down_right": (3, False),
    "move_up_left": (3, True),
}
VARIANTS: tuple[str, ...] = ("dense", "sparse")
DISTRACTORS: tuple[str, ...] = ("empty", "still")
SPLITS: tuple[str, ...] = ("train", "val", "test")

# Bump when the rendering changes, so that directories made by an older generator are regenerated.
GENERATOR_VERSION = 2  # 2: files encoded reproducibly (x264 mbtree=0)

# Share of the 1,797 source images given to each split: held-out videos show handwriting unseen in training.
_DIGIT_SHARE = {"train": 0.6, "val": 0.2, "test": 0.2}
_UPSCALED = 32  # the 8x8 digit is upscaled (bicubic) once to this size, then resampled per frame
_NOISE_STD = 6.0  # per-pixel, per-frame grey Gaussian noise, in uint8 levels

DATA_MAKERS: Registry[Any] = Registry("data maker")


@dataclass(frozen=True)
class MovingDigitsConfig:
    """Everything that decides the dataset's content; stored in `manifest.json`."""

    seed: int = 0
    num_train: int = 600
    num_val: int = 150
    num_test: int = 150
    frames: int = 16
    size: int = 64  # square canvas, even (H.264 yuv420p)
    fps: int = 8
    variant: str = "dense"  # "dense": motion in every frame; "sparse": only in `informative_frames`
    informative_frames: int = 4  # sparse variant only
    distractor: str = "empty"  # sparse variant only: the other frames are "empty" background or a "still" digit
    crf: int = 18
    classes: tuple[str, ...] = CLASS_NAMES  # label i is classes[i]; any names of `MOTIONS`

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))  # a list from a YAML config or a manifest
        unknown = [name for name in self.classes if name not in MOTIONS]
        if unknown or len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ValueError(f"classes must be at least 2 different names of {tuple(MOTIONS)}, got {self.classes}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.distractor not in DISTRACTORS:
            raise ValueError(f"distractor must be one of {DISTRACTORS}, got {self.distractor!r}")
        if self.variant == "dense" and self.distractor != "empty":
            raise ValueError("distractor applies to the sparse variant only (dense videos have no distractor frames)")
        if self.frames < 2:
            raise ValueError(f"frames must be at least 2 (motion needs two frames), got {self.frames}")
        if self.variant == "sparse" and not 2 <= self.informative_frames <= self.frames:
            raise ValueError(f"informative_frames must be in [2, frames={self.frames}], got {self.informative_frames}")
        if self.size < 16 or self.size % 2:
            raise ValueError(f"size must be even and at least 16, got {self.size}")
        if min(self.num_train, self.num_val, self.num_test) < 0:
            raise ValueError("video counts must not be negative")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be in [0, 51], got {self.crf}")

    def count(self, split: str) -> int:
        return {"train": self.num_train, "val": self.num_val, "test": self.num_test}[split]


@lru_cache(maxsize=8)
def _digit_pools(seed: int) -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    images = load_digits().images.astype(np.float32) / 16.0  # (1797, 8, 8), ink in [0, 1]
    order = np.random.default_rng([seed, 1797]).permutation(len(images))
    n_train = round(_DIGIT_SHARE["train"] * len(images))
    n_val = round(_DIGIT_SHARE["val"] * len(images))
    parts = np.split(order, [n_train, n_train + n_val])
    pools = {split: images[np.sort(idx)] for split, idx in zip(SPLITS, parts, strict=True)}
    for pool in pools.values():
        pool.setflags(write=False)
    return pools


def digit_pools(seed: int = 0) -> dict[str, np.ndarray]:
    """Disjoint sets of source digit images `(N, 8, 8)` with ink in [0, 1], one per split."""
    return _digit_pools(seed)


def render_video(
    label: int, rng: np.random.Generator, digits: np.ndarray, cfg: MovingDigitsConfig
) -> tuple[torch.Tensor, list[int]]:
    """One video of class `label`: uint8 frames `(T, C, H, W)` and the indices of the frames that carry the class.

    `digits` is a pool of `(N, h, w)` images with ink in [0, 1] (see `digit_pools`); one is drawn from
    it. The second class of each pair is rendered as the first and then reversed in time, so the
    same `rng` state gives exactly the reversed frames of the partner class.
    """
    if not 0 <= label < len(cfg.classes):
        raise ValueError(f"label must be in [0, {len(cfg.classes)}), got {label}")
    if digits.ndim != 3 or len(digits) == 0:
        raise ValueError(f"digits must be a non-empty (N, h, w) array, got shape {digits.shape}")
    t, size = cfg.frames, cfg.size
    digit = digits[rng.integers(len(digits))]  # (h, w)
    steps = cfg.informative_frames if cfg.variant == "sparse" else t
    axis, backwards = MOTIONS[cfg.classes[label]]
    path = _path(axis, steps, size, rng)  # (steps, 3): centre x, centre y, digit size, in pixels
    if steps < t:
        start = int(rng.integers(0, t - steps + 1))
        poses = np.repeat(_still_pose(size, rng)[None], t, axis=0)  # (T, 3)
        poses[start : start + steps] = path
        informative = list(range(start, start + steps))
    else:
        poses = path
        informative = list(range(t))
    visible = np.ones(t, dtype=bool)  # (T,) frames that show the digit
    if cfg.distractor == "empty":
        visible[:] = False
        visible[informative] = True
    frames = _draw(digit, poses, size, rng, visible)  # (T, 3, H, W)
    if backwards:
        frames = frames[::-1]
        informative = sorted(t - 1 - i for i in informative)
    return torch.from_numpy(np.ascontiguousarray(frames)), informative


def _path(axis: int, steps: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """The forward path of a pair (0 right, 1 down, 2 zoom in, 3 down-right) as `(steps, 3)` rows of
    (cx, cy, digit size)."""
    ramp = np.linspace(0.0, 1.0, steps)
    if axis == 2:
        small, big = rng.uniform(0.15, 0.22) * size, rng.uniform(0.42, 0.55) * size
        sides = small * (big / small) ** ramp  # geometric, so the zoom looks steady
        cx, cy = (np.full(steps, c) for c in rng.uniform(big / 2, size - big / 2, 2))
    else:
        side = rng.uniform(0.25, 0.31) * size  # 16-20 px on a 64 px canvas
        lo, hi = side / 2, size - side / 2  # centres that keep the whole digit in view
        travel = rng.uniform(0.5, 1.0) * (hi - lo)
        along = rng.uniform(lo, hi - travel) + travel * ramp
        # the diagonal moves across as far as along; the others hold it still
        across = rng.uniform(lo, hi - travel) + travel * ramp if axis == 3 else np.full(steps, rng.uniform(lo, hi))
        cx, cy = (across, along) if axis == 1 else (along, across)
        sides = np.full(steps, side)
    return np.stack([cx, cy, sides], axis=1)


def _still_pose(size: int, rng: np.random.Generator) -> np.ndarray:
    """A class-independent pose for the uninformative frames of the sparse variant."""
    side = rng.uniform(0.15, 0.55) * size
    cx, cy = rng.uniform(side / 2, size - side / 2, 2)
    return np.array([cx, cy, side])


def _draw(
    digit: np.ndarray,
    poses: np.ndarray,
    size: int,
    rng: np.random.Generator,
    visible: np.ndarray,
    wrap: bool = False,
    palette: np.random.Generator | None = None,
) -> np.ndarray:
    """Composite the digit at each pose, in the frames where it is `visible` (background and noise only in
    the others). With `wrap`, the canvas is a torus: a digit leaving one edge comes in at the opposite one
    (a motion that goes on for as long as a video lasts). The background and ink colours come from
    `palette` where given (the same seed for every piece of one long video: one scene), else from `rng`.
    Plain numpy: torch's thread pool costs 5x here on a busy machine."""
    up = _bicubic_upscale(digit.shape[0])  # (U, h)
    ink = np.clip(up @ digit.astype(np.float32) @ up.T, 0.0, 1.0)  # (U, U)
    cx, cy, side = poses.T  # (T,) each
    shifts = (-size, 0, size) if wrap else (0,)
    alpha = sum(_resample(cy + dy, side, size) @ ink @ _resample(cx + dx, side, size).transpose(0, 2, 1)
                for dy in shifts for dx in shifts)  # (T, H, W)  # fmt: skip
    alpha = np.minimum(alpha, 1.0) * visible[:, None, None]

    colours = rng if palette is None else palette
    background = colours.uniform(0, 48, 3).astype(np.float32)[None, :, None, None]  # (1, 3, 1, 1)
    hue = colours.uniform(0.2, 1.0, 3)
    tint = (hue / hue.max() * colours.uniform(170, 255)).astype(np.float32)[None, :, None, None]
    noise = rng.standard_normal((len(poses), 1, size, size), dtype=np.float32)  # grey: a third of the cost
    frames = background + (tint - background) * alpha[:, None] + _NOISE_STD * noise  # (T, 3, H, W)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def _resample(centre: np.ndarray, side: np.ndarray, size: int) -> np.ndarray:
    """Bilinear weights `(T, size, U)` that place a U-pixel row at `centre` with width `side`, zero outside.

    Output pixel i (centre at i + 0.5) reads source coordinate u, in the align_corners=False
    convention; the tent max(0, 1 - |u - k|) is bilinear interpolation with zero padding, and the
    2-D result, being separable, is what `grid_sample` would give for a scale-and-shift affine grid.
    """
    pixel = np.arange(size) + 0.5  # (size,)
    box = (pixel[None] - centre[:, None]) / (side[:, None] / 2)  # (T, size), digit box spans [-1, 1]
    u = ((box + 1) * _UPSCALED - 1) / 2  # (T, size)
    weights = 1.0 - np.abs(u[:, :, None] - np.arange(_UPSCALED))  # (T, size, U)
    return np.maximum(weights, 0.0).astype(np.float32)


@lru_cache(maxsize=4)
def _bicubic_upscale(n: int) -> np.ndarray:
    """The `(U, n)` matrix of torch's bicubic upscaling (align_corners=False); 2-D is `M @ img @ M.T`."""
    basis = torch.eye(n).view(n, 1, 1, n)  # each row a 1 x n image
    rows = F.interpolate(basis, size=(1, _UPSCALED), mode="bicubic", align_corners=False)  # (n, 1, 1, U)
    return rows.view(n, _UPSCALED).T.contiguous().numpy()


def render_split(cfg: MovingDigitsConfig, split: str) -> Iterator[tuple[str, int, torch.Tensor, list[int]]]:
    """(video id, label, frames, informative indices) for every video of `split`, as written to disk."""
    for i in range(cfg.count(split)):
        yield _render_one(cfg, split, i)


def _render_one(cfg: MovingDigitsConfig, split: str, i: int) -> tuple[str, int, torch.Tensor, list[int]]:
    # Each video has its own generator seeded by (seed, split, index), so any one renders alone and
    # the order of rendering does not matter. Labels cycle, so every prefix of a split is balanced.
    label = i % len(cfg.classes)
    rng = np.random.default_rng([cfg.seed, SPLITS.index(split), i])
    frames, informative = render_video(label, rng, digit_pools(cfg.seed)[split], cfg)
    return f"{split}_{i:05d}", label, frames, informative


def make_moving_digits(
    out: str | os.PathLike[str],
    cfg: MovingDigitsConfig = MovingDigitsConfig(),  # noqa: B008 (frozen, so sharing it is safe)
    *,
    progress: bool = True,
    overwrite: bool = False,
    workers: int = 2,
) -> Path:
    """Write the dataset to `out` (see the module docstring for the layout) and return `out`.

    Returns at once if `out` already holds a finished dataset with the same parameters. `workers`
    threads render and encode (numpy and the encoder release the GIL for most of the work). Neither the
    frames nor the files depend on their number or on the run: the files are encoded with
    `write_video(..., reproducible=True)` (see there why; generator version 2).
    """
    out = Path(out).expanduser()
    manifest = _manifest(cfg)
    if _is_complete(out, manifest):
        return out
    _clear(out, overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "manifest.json", {**manifest, "complete": False})

    def write_one(split: str, i: int) -> tuple[str, str, int, list[int]]:
        video_id, label, frames, informative = _render_one(cfg, split, i)
        rel = f"videos/{split}/{cfg.classes[label]}/{video_id}.mp4"
        write_video(out / rel, frames, fps=cfg.fps, crf=cfg.crf, reproducible=True)
        return video_id, rel, label, informative

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    digit_pools(cfg.seed)  # load once, before the threads need it
    with Progress(*columns, disable=not progress) as bar, ThreadPoolExecutor(max(1, workers)) as pool:
        for split in SPLITS:
            task = bar.add_task(f"moving-digits ({cfg.variant}) {split}", total=cfg.count(split))
            lines, informative_by_id = [], {}
            for video_id, rel, label, informative in pool.map(write_one, repeat(split), range(cfg.count(split))):
                lines.append(f"{rel} {label}\n")
                informative_by_id[video_id] = informative
                bar.advance(task)
            (out / "videos" / split).mkdir(parents=True, exist_ok=True)
            _write_json(out / "videos" / split / "meta.json", informative_by_id)
            (out / f"{split}.txt").write_text("".join(lines))
    (out / "classes.txt").write_text("".join(f"{name}\n" for name in cfg.classes))
    (out / "PROVENANCE.md").write_text(_provenance(cfg))
    _write_json(out / "manifest.json", {**manifest, "complete": True})  # last: marks the run finished
    return out


def default_data_dir() -> Path:
    """Where `vap train` without a config makes the dataset.

    `$VAP_DATA_DIR` if set; else `<repo>/datasets/moving-digits` when the package runs from a source
    checkout; else `~/.cache/vap/moving-digits`.
    """
    env = os.environ.get("VAP_DATA_DIR")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "pipeline").is_dir():
        return repo / "datasets" / "moving-digits"
    return Path.home() / ".cache" / "vap" / "moving-digits"


def _content_params(cfg: MovingDigitsConfig) -> dict[str, Any]:
    """The parameters that decide the frames: a dense dataset has no distractor frames, so its
    manifest leaves `distractor` out (and a dense dataset made before the option existed stays valid)."""
    params = asdict(cfg)
    if cfg.variant == "dense":
        params.pop("distractor")
    if cfg.classes == CLASS_NAMES:
        params.pop("classes")  # the default: manifests written before the option stay valid
    else:
        params["classes"] = list(cfg.classes)
    return params


def _manifest(cfg: MovingDigitsConfig) -> dict[str, Any]:
    return {
        "generator": "moving-digits",
        "version": GENERATOR_VERSION,
        "config": _content_params(cfg),
        "classes": list(cfg.classes),
    }


def _is_complete(out: Path, manifest: dict[str, Any]) -> bool:
    found = _read_manifest(out)
    if found is None or not found.pop("complete", False) or found != manifest:
        return False
    cfg = MovingDigitsConfig(**manifest["config"])
    for split in SPLITS:
        listing = out / f"{split}.txt"
        if not listing.is_file() or not (out / "videos" / split / "meta.json").is_file():
            return False
        paths = [line.rsplit(" ", 1)[0] for line in listing.read_text().splitlines() if line.strip()]
        if len(paths) != cfg.count(split) or not all((out / p).is_file() for p in paths):
            return False
    return (out / "classes.txt").is_file()


def _read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and found.get("generator") == "moving-digits" else None


def _clear(out: Path, *, overwrite: bool) -> None:
    """Remove what an earlier run wrote; refuse a non-empty directory this generator did not make."""
    if not out.exists():
        return
    if not out.is_dir():
        raise NotADirectoryError(f"{out}: exists and is not a directory")
    ours = _read_manifest(out) is not None
    if not ours and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{out}: not empty and not made by the moving-digits generator; "
            "choose another directory or pass overwrite=True"
        )
    shutil.rmtree(out / "videos", ignore_errors=True)
    for name in (*(f"{s}.txt" for s in SPLITS), "classes.txt", "PROVENANCE.md", "manifest.json"):
        (out / name).unlink(missing_ok=True)


def _write_json(path: Path, obj: Any) -> None:
    """Atomically: a run killed while writing the manifest leaves the old one."""
    write_atomic(path, json.dumps(obj, indent=1) + "\n")


def _provenance(cfg: MovingDigitsConfig) -> str:
    import sklearn

    params = "\n".join(f"- `{k}`: {v!r}" for k, v in _content_params(cfg).items())
    shares = ", ".join(f"{s} {round(100 * p)}%" for s, p in _DIGIT_SHARE.items())
    name = "moving-digits-sparse" if cfg.variant == "sparse" else "moving-digits"
    return f"""# {name}

Generated by `pipeline/data/moving_digits.py` (generator version {GENERATOR_VERSION}, scikit-learn
{sklearn.__version__}); the same parameters give the same frames. Regenerate it with
`vap data make {name} --out DIR`. Nothing here was downloaded.

Source images: the 1,797 8x8 handwritten digits of scikit-learn's `load_digits()`, which ships with
scikit-learn (BSD-3-Clause). scikit-learn's copy is the test set of the UCI "Optical Recognition of
Handwritten Digits" data (E. Alpaydin, C. Kaynak, 1998); keep that attribution when you share the
videos. The images are split before rendering ({shares}), so validation and test videos show
digit images that the training videos never use.

Classes (label = line in `classes.txt`): {", ".join(f"{i} `{n}`" for i, n in enumerate(cfg.classes))}.
Classes come in pairs, one the other played backwards (right/left, down/up, zoom in/out,
down-right/up-left), so only the order of the frames tells a pair apart; the digit's identity and
colour are distractors. `videos/<split>/meta.json` maps each video id
to the frames that carry the class (all frames in the dense variant).

Parameters (`manifest.json` holds the same):

{params}
"""


def _config(variant: str, seed: int, overrides: dict[str, Any]) -> MovingDigitsConfig:
    allowed = {f.name for f in fields(MovingDigitsConfig)} - {"seed", "variant"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise TypeError(f"unknown moving-digits option(s) {unknown}; allowed: {sorted(allowed)}")
    try:
        return MovingDigitsConfig(seed=seed, variant=variant, **overrides)
    except ValueError as e:  # a value out of range: the user's to fix, in one line (`vap data make`, `data.make_args`)
        raise ConfigError(f"moving-digits: {e}") from None


@DATA_MAKERS.register("moving-digits")
def make_dense(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    **overrides: Any,
) -> Path:
    """Handwritten digits moving right/left/down/up or zooming in/out; pairs differ only in time order."""
    cfg = _config("dense", seed, overrides)
    return make_moving_digits(out, cfg, progress=progress, overwrite=overwrite)


@DATA_MAKERS.register("moving-digits-sparse")
def make_sparse(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    **overrides: Any,
) -> Path:
    """moving-digits with the motion in only a few consecutive frames, recorded in videos/<split>/meta.json."""
    cfg = _config("sparse", seed, overrides)
    return make_moving_digits(out, cfg, progress=progress, overwrite=overwrite)
