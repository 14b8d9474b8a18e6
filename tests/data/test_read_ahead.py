"""read_ahead (pipeline/data/pool.py): a producer thread ahead of the consumer, stopped and joined when the
consumer stops, its errors raised in the consumer."""

import pytest


def test_read_ahead_stops_its_thread_before_the_consumer_goes_on():
    """read_ahead: the producer runs ahead, and after an early stop nothing is produced any more (a video
    it reads from is closed by then)."""
    import threading
    import time

    from pipeline.data.pool import read_ahead

    made = []

    def items():
        for i in range(1000):
            made.append(i)
            yield i

    got = []
    gen = read_ahead(items(), 4)
    for x in gen:
        got.append(x)
        if x == 10:
            break
    gen.close()
    count = len(made)
    time.sleep(0.1)
    assert len(made) == count and count <= 10 + 1 + 4 + 1  # stopped, at most the queue's worth ahead
    assert got == list(range(11))
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]

    def failing():
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(read_ahead(failing(), 2))
