"""bench_segments.py: how segments are judged against the planted truth."""

from __future__ import annotations

import bench_segments as bench


def test_evaluate_counts_right_seconds_boundaries_and_false_alarms():
    truth = {"duration": 20.0, "events": [{"start": 2.0, "end": 8.0, "label": "a"},
                                          {"start": 12.0, "end": 16.0, "label": "b"}]}  # fmt: skip
    record = {
        "segments": [
            {"start": 3.0, "end": 6.0, "label": "a", "score": 0.9},  # 3 of 6 planted seconds
            {"start": 6.0, "end": 8.0, "label": "c", "score": 0.9},  # wrong label: 2 wrong
            {"start": 11.0, "end": 16.0, "label": "b", "score": 0.8},
        ]
    }  # b right, 1 s early
    got = bench.evaluate(record, truth, stride=1.0)
    assert got["planted_seconds"] == 10 and got["right_seconds"] == 3 + 4
    assert got["events"] == 2 and got["events_found"] == 2
    assert sorted(got["boundary_errors"]) == [0.0, 1.0, 1.0, 2.0]  # a: 3-2, 6-8; b: 11-12, 16-16
    assert got["background_seconds"] == 10 and got["false_alarm_seconds"] == 1  # 11-12 is background


def test_a_missed_event_counts_its_seconds_wrong_and_has_no_boundaries():
    truth = {"duration": 10.0, "events": [{"start": 2.0, "end": 6.0, "label": "a"}]}
    got = bench.evaluate({"segments": []}, truth, stride=1.0)
    assert (got["right_seconds"], got["events_found"], got["boundary_errors"]) == (0, 0, [])
