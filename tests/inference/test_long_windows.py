"""Which windows a long-video agent scores with `vap score --window`: those its glimpses saw something in,
grown on both sides until the classifier finds the empty class again; the rest are skipped."""

from __future__ import annotations

import torch

from pipeline.inference.long_windows import windows_to_score

SPANS = [(50 * k, 50 * k + 50) for k in range(10)]  # ten windows of 50 frames
EMPTY = {0}  # class 0: nothing happens (`background`)


def scorer(busy: set[int]):
    """score(k): class 1 in the windows of `busy`, the empty class elsewhere; counts its calls."""
    calls: list[int] = []

    def score(k: int) -> torch.Tensor:
        calls.append(k)
        return torch.tensor([0.2, 0.8]) if k in busy else torch.tensor([0.9, 0.1])

    return score, calls


def test_a_glimpse_that_saw_something_grows_to_the_empty_windows_on_both_sides() -> None:
    score, calls = scorer({3, 4, 5})
    glimpses = [(225, 1), (25, 0)]  # one in window 4 saw class 1; one in window 0 saw nothing
    got = windows_to_score(SPANS, glimpses, score, EMPTY)
    assert sorted(got) == [2, 3, 4, 5, 6]  # the event's windows and one empty window each side
    assert sorted(calls) == [2, 3, 4, 5, 6]  # each decoded once; window 0 and 7-9 never
    assert [int(got[k].argmax()) for k in (2, 3, 4, 5, 6)] == [0, 1, 1, 1, 0]


def test_an_event_at_the_video_edge_stops_at_the_edge() -> None:
    score, calls = scorer({8, 9})
    got = windows_to_score(SPANS, [(480, 1)], score, EMPTY)
    assert sorted(got) == [7, 8, 9] and len(calls) == 3


def test_glimpses_that_saw_only_the_empty_class_score_nothing() -> None:
    score, calls = scorer({3, 4, 5})  # an event the agent did not see is missed: the price of skipping
    assert windows_to_score(SPANS, [(25, 0), (475, 0)], score, EMPTY) == {} and calls == []
    assert windows_to_score(SPANS, [], score, EMPTY) == {}


def test_a_glimpse_whose_window_turns_out_empty_does_not_grow() -> None:
    score, calls = scorer(set())  # the glimpse's clip said class 1, its window's clips say nothing
    assert sorted(windows_to_score(SPANS, [(125, 1)], score, EMPTY)) == [2] and calls == [2]


def test_two_events_grow_separately() -> None:
    score, calls = scorer({1, 2, 7})
    got = windows_to_score(SPANS, [(60, 1), (360, 1)], score, EMPTY)
    assert sorted(got) == [0, 1, 2, 3, 6, 7, 8] and sorted(calls) == sorted(got)


def test_seeds_are_the_surest_glimpse_of_a_video_class_and_the_frames_sure_of_one() -> None:
    from pipeline.inference.long_episodes import Looked
    from pipeline.inference.long_windows import seeds

    seen = [torch.tensor([0.9, 0.1, 0.0]), torch.tensor([0.6, 0.0, 0.4])]  # both best at "empty"
    marks = [(10, torch.tensor([0.05, 0.95, 0.0])), (20, torch.tensor([0.5, 0.5, 0.0])),
             (30, torch.tensor([1.0, 0.0, 0.0]))]  # fmt: skip
    done = Looked(torch.zeros(2), [100, 200], seen, [10, 30], [20], marks, 10, {})
    # the second glimpse saw class 2 at its edge (0.4), frame 10 showed class 1 surely; frame 20 not surely
    assert seeds(done, 12, EMPTY, 0.9) == [(212, 2), (10, 1)]
    assert seeds(done, 12, EMPTY, 0.99) == [(212, 2)]
    assert seeds(Looked(torch.zeros(2), [], [], [], [], [], 10, {}), 12, EMPTY, 0.9) == []
    calm = Looked(torch.zeros(2), [100], [torch.tensor([0.95, 0.05, 0.0])], [], [], [], 10, {})
    assert seeds(calm, 12, EMPTY, 0.9) == []  # 5% on a video class: footage alone
