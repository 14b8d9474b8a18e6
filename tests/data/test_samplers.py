"""Property tests for the samplers: length, range, order, coverage, determinism, short videos."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.data.samplers import SAMPLERS, DenseSampler, TSNSampler, UniformSampler, build_sampler, stretch
from pipeline.errors import ConfigError

frames = st.integers(min_value=1, max_value=5000)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
k_st = st.integers(min_value=1, max_value=32)


def all_samplers(k: int, clips: int = 1):
    return [
        TSNSampler(num_segments=k, test_clips=clips),
        DenseSampler(length=k, interval=2, test_clips=clips),
        DenseSampler(length=k, target_fps=10.0, test_clips=clips),
        UniformSampler(length=k),
    ]


@settings(max_examples=200, deadline=None)
@given(n=frames, k=k_st, clips=st.integers(1, 5), seed=seeds, training=st.booleans())
def test_shape_range_order_determinism(n, k, clips, seed, training):
    for s in all_samplers(k, clips):
        a = s(n, np.random.default_rng(seed), training=training, fps=30.0)
        b = s(n, np.random.default_rng(seed), training=training, fps=30.0)
        assert a.shape == (s.num_clips(training), k) and a.dtype == np.int64
        assert a.min() >= 0 and a.max() < n
        assert (np.diff(a, axis=1) >= 0).all()  # time order is kept within a clip
        assert np.array_equal(a, b)  # pure: same rng seed, same clip


@settings(max_examples=100, deadline=None)
@given(n=st.integers(8, 3000), k=st.integers(1, 8))
def test_tsn_one_frame_per_segment_and_tail_reachable(n, k):
    s = TSNSampler(num_segments=k)
    edges = np.arange(k + 1) * n // k
    draws = np.concatenate([s(n, np.random.default_rng(i), training=True) for i in range(300)])  # (300, K)
    assert ((draws >= edges[:-1]) & (draws < edges[1:])).all()
    if n // k <= 20:  # small segments: 300 draws reach both ends of every segment
        assert draws[:, -1].max() == n - 1  # the tail frame is reachable (no integer-division loss)
        assert draws[:, 0].min() == 0


def test_tsn_test_mode_takes_segment_centres():
    assert TSNSampler(num_segments=4)(100).tolist() == [[12, 37, 62, 87]]
    three = TSNSampler(num_segments=2, test_clips=3)(12)
    assert three.tolist() == [[1, 7], [3, 9], [5, 11]]


def test_training_needs_an_rng():
    with pytest.raises(ValueError, match="rng"):
        TSNSampler()(100, training=True)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(61, 3000), length=st.integers(1, 16), interval=st.integers(1, 4), seed=seeds)
def test_dense_clip_is_contiguous_at_stride(n, length, interval, seed):
    s = DenseSampler(length=length, interval=interval)
    clip = s(n, np.random.default_rng(seed), training=True)[0]
    assert (np.diff(clip) == interval).all()


def test_dense_target_fps_follows_the_video_rate():
    s = DenseSampler(length=4, target_fps=10.0)
    assert np.diff(s(300, fps=30.0)[0]).tolist() == [3, 3, 3]
    assert np.diff(s(300, fps=20.0)[0]).tolist() == [2, 2, 2]
    assert np.diff(s(300)[0]).tolist() == [2, 2, 2]  # no fps known: fall back to `interval`


def test_dense_test_clips_span_the_video():
    clips = DenseSampler(length=4, interval=1, test_clips=3)(100)
    assert clips[0, 0] == 0 and clips[-1, -1] == 99
    assert clips[1, 0] == 48


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 4000), k=st.integers(1, 64))
def test_uniform_covers_the_video_evenly(n, k):
    idx = UniformSampler(length=k)(n)[0]
    bins = np.arange(k + 1) * n / k
    assert ((idx >= np.floor(bins[:-1])) & (idx < np.ceil(bins[1:]))).all()


@pytest.mark.parametrize("sampler", all_samplers(8), ids=lambda s: type(s).__name__)
def test_short_video_policies(sampler):
    from dataclasses import replace

    n = 3
    stretched = replace(sampler, short_video="stretch")(n)
    assert stretched.tolist() == [[0, 0, 0, 1, 1, 2, 2, 2]]  # every frame, in order, evenly repeated
    looped = replace(sampler, short_video="loop")(n)
    assert looped.tolist() == [[0, 1, 2, 0, 1, 2, 0, 1]]
    with pytest.raises(ValueError, match="3 frames"):
        replace(sampler, short_video="error")(n)


def test_zero_frames_is_an_error():
    with pytest.raises(ValueError, match="0 frames"):
        TSNSampler()(0)


def test_registry_builds_from_config():
    assert SAMPLERS.names() == ["dense", "tsn", "uniform"]
    s = build_sampler("tsn", num_segments=3)
    assert s == TSNSampler(num_segments=3)
    with pytest.raises(ConfigError, match="sampler 'tsn': got an unexpected keyword argument 'segments'"):
        build_sampler("tsn", segments=3)  # a misspelt key fails loudly, in one line naming it
    with pytest.raises(KeyError, match="allowed: dense, tsn, uniform"):
        build_sampler("slowfast")


def test_stretch_is_bin_centres():
    assert stretch(10, 5).tolist() == [1, 3, 5, 7, 9]
    assert stretch(2, 4).tolist() == [0, 0, 1, 1]
