"""fashion_mnist.py: Fashion-MNIST IDX reading, on files the test writes itself, and the cluttered-translated
canvases."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from fashion_mnist import DEFAULT_ROOT, load_fashion_mnist, make_cluttered, read_idx


def write_idx(path: Path, array: np.ndarray, *, compress: bool = True) -> Path:
    """The IDX layout: two zero bytes, a type code, the number of dimensions, big-endian int32 sizes, data."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_read_idx_round_trip(tmp_path, dtype, compress):
    a = (np.arange(2 * 3 * 5).reshape(2, 3, 5) * 7 % 251).astype(dtype)
    path = write_idx(tmp_path / ("a.idx.gz" if compress else "a.idx"), a, compress=compress)
    b = read_idx(path)
    assert b.shape == a.shape and b.dtype == a.dtype and np.array_equal(a, b)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    path = write_idx(tmp_path / "short", np.zeros((4, 2), np.uint8), compress=False)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"header says shape \(4, 2\)"):
        read_idx(path)


def fake_split(root: Path, prefix: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(1, 256, (n, 28, 28), dtype=np.uint8)  # never 0, so every pixel shows
    labels = (np.arange(n) % 10).astype(np.uint8)
    write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return images, labels


def test_load_fashion_mnist_from_a_folder(tmp_path):
    images, labels = fake_split(tmp_path, "t10k", 12)
    x, y = load_fashion_mnist("test", tmp_path)
    assert np.array_equal(x, images) and np.array_equal(y, labels) and y.dtype == np.int64
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_fashion_mnist("train", tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        load_fashion_mnist("val", tmp_path)


def test_cluttered_canvases(tmp_path):
    images, labels = fake_split(tmp_path, "train", 30)
    a = make_cluttered(images, labels.astype(np.int64), 50, size=60, clutter=4, seed=3)
    b = make_cluttered(images, labels.astype(np.int64), 50, size=60, clutter=4, seed=3)
    c = make_cluttered(images, labels.astype(np.int64), 50, size=60, clutter=4, seed=4)
    assert a.images.shape == (50, 60, 60) and a.images.dtype == np.uint8 and a.labels.shape == (50,)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.boxes, b.boxes)  # same seed, same data
    assert not np.array_equal(a.images, c.images)
    top, left, bottom, right = a.boxes.T
    assert (bottom - top == 28).all() and (right - left == 28).all() and (top >= 0).all() and (bottom <= 60).all()
    for img, (t, l, bt, r), label in zip(a.images, a.boxes, a.labels, strict=True):
        obj = img[t:bt, l:r]
        # the object is pasted by maximum: some source image of this class lies under it, pixel for pixel
        same_class = images[labels == label]
        assert ((obj[None] >= same_class).all(axis=(1, 2))).any()
        outside = img.copy()
        outside[t:bt, l:r] = 0
        assert 0 < (outside > 0).sum() <= 4 * 64  # clutter: at most 4 crops of 8x8 outside the object


def test_translated_canvas_holds_exactly_the_object_where_its_box_says(tmp_path):
    images, labels = fake_split(tmp_path, "train", 30)
    t = make_cluttered(images, labels.astype(np.int64), 40, size=60, clutter=0, seed=1)
    assert t.images.shape == (40, 60, 60) and len(set(map(tuple, t.boxes[:, :2]))) > 20  # places vary
    for img, (top, left, bottom, right), label in zip(t.images, t.boxes, t.labels, strict=True):
        obj = img[top:bottom, left:right]
        match = [k for k in range(len(images)) if np.array_equal(obj, images[k])]
        assert len(match) == 1 and labels[match[0]] == label  # one whole source image, of the stated class
        outside = img.copy()
        outside[top:bottom, left:right] = 0
        assert not outside.any()  # no clutter


def reference_canvas(images, obj, top, left, crops):
    """One canvas pasted the plain way, piece by piece; `crops` = [(src, cy, cx, py, px), ...]."""
    canvas = np.zeros((60, 60), np.uint8)
    for src, cy, cx, py, px in crops:
        region = canvas[py : py + 8, px : px + 8]
        np.maximum(region, images[src, cy : cy + 8, cx : cx + 8], out=region)
    region = canvas[top : top + 28, left : left + 28]
    np.maximum(region, images[obj], out=region)
    return canvas


def test_vectorised_paste_matches_a_per_canvas_loop(tmp_path):
    """The same random draws, pasted one canvas at a time, give the same pixels (clutter overlapping
    other clutter and the object included: 4 crops on 60x60 overlap often)."""
    images, labels = fake_split(tmp_path, "train", 30)
    n, k = 300, 4
    got = make_cluttered(images, labels.astype(np.int64), n, size=60, clutter=k, seed=7)
    rng = np.random.default_rng(7)  # the draws in make_cluttered's order
    obj, top, left = rng.integers(0, 30, n), rng.integers(0, 33, n), rng.integers(0, 33, n)
    src = (obj[:, None] + rng.integers(1, 30, (n, k))) % 30
    cy = np.clip(rng.integers(7, 22, (n, k)) - 4, 0, 20)
    cx = np.clip(rng.integers(7, 22, (n, k)) - 4, 0, 20)
    py, px = rng.integers(0, 53, (n, k)), rng.integers(0, 53, (n, k))
    for i in range(n):
        crops = list(zip(src[i], cy[i], cx[i], py[i], px[i], strict=True))
        assert np.array_equal(got.images[i], reference_canvas(images, obj[i], top[i], left[i], crops)), i


def test_cluttered_rejects_sizes_that_do_not_fit():
    images = np.zeros((3, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="canvas 20 must hold"):
        make_cluttered(images, np.zeros(3, np.int64), 2, size=20)


@pytest.mark.skipif(
    not (DEFAULT_ROOT / "t10k-labels-idx1-ubyte.gz").exists(),
    reason="needs Fashion-MNIST: apt-get install dataset-fashion-mnist",
)
def test_real_fashion_mnist_test_split():
    x, y = load_fashion_mnist("test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [1000] * 10
