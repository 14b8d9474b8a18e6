"""Fashion-MNIST from its IDX files, and the cluttered-translated task built on it.

Fashion-MNIST (Xiao et al., 2017): 70,000 28x28 greyscale images of clothing in 10 classes, shipped
as gzipped IDX files (Debian package `dataset-fashion-mnist`). IDX is a tiny big-endian format, so
it is read here with numpy alone rather than through a dataset library.

The cluttered task follows the Recurrent Attention Model's protocol (Mnih et al., NIPS 2014): one
28x28 object at a random position on a larger empty canvas, plus small crops of *other* images
scattered around as clutter. The class is the object's class, so a model must find the object
among distractors that look locally alike; that is what spatial attention is meant to help with.

    object image + k random 8x8 crops of other images -> pasted (max) on a zero canvas -> (N, S, S) uint8

With no clutter it is the paper's plain translated task.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES: tuple[str, ...] = (
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# IDX type codes (third byte of the magic number) -> numpy dtypes; multi-byte types are big-endian.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped if the name ends in .gz): magic 0 0 type ndim, ndim big-endian int32 sizes, data."""
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: header says shape {shape} ({expected} bytes), file has {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def load_fashion_mnist(split: str = "train", root: str | Path = DEFAULT_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of one split (`train`: 60,000, `test`: 10,000)."""
    if split not in _FILES:
        raise ValueError(f"split must be one of {sorted(_FILES)}, got {split!r}")
    root = Path(root)
    found = []
    for stem in _FILES[split]:
        candidates = [root / f"{stem}.gz", root / stem]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise FileNotFoundError(
                f"{candidates[0]} not found; install the Debian package dataset-fashion-mnist "
                "or pass the folder holding the IDX files"
            )
        found.append(read_idx(path))
    images, labels = found
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{root}: images {images.shape} and labels {labels.shape} do not match")
    return images, labels.astype(np.int64)


@dataclass
class Cluttered:
    """A cluttered-translated set: canvases, the object's class, and where the object was put."""

    images: np.ndarray  # (N, S, S) uint8
    labels: np.ndarray  # (N,) int64
    boxes: np.ndarray  # (N, 4) int64: top, left, bottom, right of the object (exclusive ends)


def make_cluttered(
    images: np.ndarray,
    labels: np.ndarray,
    num: int,
    *,
    size: int = 64,
    clutter: int = 8,
    patch: int = 8,
    seed: int = 0,
) -> Cluttered:
    """`num` canvases of `size` x `size`: a random object at a random place, `clutter` crops of other images.

    `clutter=0` gives the paper's plain "translated" task. Clutter crops come from the central part of
    their source image, where clothing is (the border of a Fashion-MNIST image is mostly black), and are
    pasted by maximum, like the object; they may overlap it. The same `seed` gives the same canvases.
    All canvases are drawn at once (numpy) and pasted at once (torch), with no per-canvas loop.
    """
    n_src, h, w = images.shape
    if size < max(h, w) or patch > min(h, w):
        raise ValueError(f"canvas {size} must hold a {h}x{w} object and patch {patch} must fit in it")
    rng = np.random.default_rng(seed)
    obj = rng.integers(0, n_src, num)
    top = rng.integers(0, size - h + 1, num)
    left = rng.integers(0, size - w + 1, num)
    # Clutter sources: any image except the object itself (shift by 1..n_src-1 modulo n_src).
    src = (obj[:, None] + rng.integers(1, n_src, (num, clutter))) % n_src
    # crop centres in the central half of the source image; crop origins kept inside the image
    cy = np.clip(rng.integers(h // 4, h - h // 4 + 1, (num, clutter)) - patch // 2, 0, h - patch)
    cx = np.clip(rng.integers(w // 4, w - w // 4 + 1, (num, clutter)) - patch // 2, 0, w - patch)
    py = rng.integers(0, size - patch + 1, (num, clutter))
    px = rng.integers(0, size - patch + 1, (num, clutter))

    source = torch.from_numpy(np.ascontiguousarray(images))  # (n_src, h, w) uint8
    t = {
        k: torch.from_numpy(v)
        for k, v in dict(obj=obj, top=top, left=left, src=src, cy=cy, cx=cx, py=py, px=px).items()
    }
    canvases = torch.zeros(num, size * size, dtype=torch.uint8)
    chunk = 4096  # canvases pasted together: bounds the index tensors to a few tens of MB
    for a in range(0, num, chunk):
        c = {k: v[a : a + chunk] for k, v in t.items()}
        crops = _crop(source, c["src"], c["cy"], c["cx"], patch)  # (n, clutter, patch, patch)
        objects = source[c["obj"]][:, None]  # (n, 1, h, w)
        _paste_max(canvases[a : a + chunk], crops, c["py"], c["px"], size)
        _paste_max(canvases[a : a + chunk], objects, c["top"][:, None], c["left"][:, None], size)
    boxes = np.stack([top, left, top + h, left + w], axis=1).astype(np.int64)
    return Cluttered(images=canvases.view(num, size, size).numpy(), labels=labels[obj].astype(np.int64), boxes=boxes)


def _crop(source: torch.Tensor, idx: torch.Tensor, y: torch.Tensor, x: torch.Tensor, patch: int) -> torch.Tensor:
    """(n, k, patch, patch): from image `idx[i, j]` the patch whose top-left corner is (y, x)[i, j]."""
    d = torch.arange(patch)
    rows = (y[..., None] + d)[..., :, None]  # (n, k, patch, 1)
    cols = (x[..., None] + d)[..., None, :]  # (n, k, 1, patch)
    return source[idx[..., None, None], rows, cols]  # (n, k, patch, patch)


def _paste_max(canvases: torch.Tensor, pieces: torch.Tensor, y: torch.Tensor, x: torch.Tensor, size: int) -> None:
    """Paste `pieces` (n, k, ph, pw) by maximum onto flat `canvases` (n, size*size) at top-left (y, x) (n, k).
    Maximum is order-free, so every piece of every canvas goes in one scatter."""
    n, k, ph, pw = pieces.shape
    rows = (y[..., None] + torch.arange(ph))[..., :, None]  # (n, k, ph, 1)
    cols = (x[..., None] + torch.arange(pw))[..., None, :]  # (n, k, 1, pw)
    flat = (rows * size + cols).reshape(n, -1)  # (n, k * ph * pw)
    canvases.scatter_reduce_(1, flat, pieces.reshape(n, -1), reduce="amax")
