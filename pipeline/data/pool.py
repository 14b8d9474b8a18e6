"""Run a function on many inputs in worker processes, each call under a wall-clock timeout.

Why hand-written: a decoder that hangs in native code holding the GIL (decord#373) cannot be
interrupted by signals or threads, and `multiprocessing.Pool` / `concurrent.futures` cannot kill one
stuck worker without losing the pool. Here each worker has its own pipe; a worker past its deadline is
killed and replaced, and its input is reported as timed out. Results come back in completion order.

A function may return a generator (a long video's windows, one by one): each part it yields comes back
as soon as it is made, as a `partial` outcome, and each part restarts the item's clock, so the timeout
bounds the wait for the next part, not the whole video. The pipe's buffer is the back-pressure: a
worker waits while the caller has not read its last parts, so memory stays flat however long the video.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import pickle
import queue
import signal
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from pipeline.errors import one_line


@dataclass
class Outcome:
    item: Any
    result: Any = None
    error: str | None = None  # "timed out after N s" or the worker's exception, one line
    partial: bool = False  # one part of a generator's output; the item goes on (its end: a non-partial outcome)


STARTUP_SECONDS = 120.0  # a new worker's start (spawn, imports) is not counted against its first item


def _serve(pickled: bytes, conn: Connection) -> None:
    # Ctrl-C reaches the whole process group: the parent stops the run and says so once; a worker that
    # also raised KeyboardInterrupt would print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fn: Callable[[Any], Any] = pickle.loads(pickled)
    torch = sys.modules.get("torch")  # imported with `fn` when it uses torch (decoding, transforms)
    if torch is not None:  # one of several worker processes: one intra-op thread each, not one per core each
        torch.set_num_threads(1)
    try:
        conn.send(("ready", None))  # imports are done: from now on, time counts against the items
        while True:
            item = conn.recv()
            if item is None:
                return
            try:
                result = fn(item)
                if isinstance(result, types.GeneratorType):
                    for part in result:
                        conn.send(("part", part))
                    result = None
                conn.send(("ok", result))
            except Exception as e:  # report, keep serving
                conn.send(("error", one_line(e)))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the parent is gone (killed, or stopped by a signal): nothing to report to, end quietly


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[[Any], Any]) -> None:
        self.conn, child = ctx.Pipe()
        # `fn` goes pickled, so that the worker unpickles it (importing torch and the decoders, seconds) only
        # after it has set SIGINT aside: a Ctrl-C during those imports would print their traceback
        self.proc = ctx.Process(target=_serve, args=(pickle.dumps(fn), child), daemon=True)
        self.proc.start()
        child.close()
        self.queue: deque[Any] = deque()  # items sent and not answered; the first one is running
        self.ready = False  # the process has started and imported what it needs
        self.started = time.monotonic()  # when the running item started (before ready: the spawn)

    def submit(self, item: Any) -> None:
        if not self.queue and self.ready:
            self.started = time.monotonic()
        self.queue.append(item)
        self.conn.send(item)

    def became_ready(self) -> None:
        self.ready, self.started = True, time.monotonic()

    def limit(self, timeout: float) -> float:
        return timeout if self.ready else max(timeout, STARTUP_SECONDS)

    def answered(self) -> Any:
        """The running item is done: the next queued one starts now."""
        self.started = time.monotonic()
        return self.queue.popleft()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(1)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(2)
        if self.proc.is_alive():
            self.kill()


def _context() -> Any:
    """forkserver where the platform has it (Linux, macOS), else spawn. Not fork: a fork taken after FFmpeg,
    OpenMP or decoder threads have started in this process can deadlock in the child (seen here with
    TorchCodec loaded before the fork). The fork server is a clean process that never decodes; each worker
    is forked from it, with what `warm_up` had it import already in memory."""
    return mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")


def warm_up(*modules: str) -> None:
    """Start the process the workers are forked from now, importing `modules` there (torch, torchvision and
    the decoders: seconds), while this process goes on with its own start-up on another core. Call it
    first thing, before this process imports them too; later calls change nothing. Why: `vap score` on one
    video spent 3-4 s starting its decoding worker after its own 4-5 s of imports (docs/bench/windows.md)."""
    ctx = _context()
    if ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    ctx.set_forkserver_preload(list(modules))
    forkserver.ensure_running()


class IsolatedPool:
    """`jobs` worker processes running `fn`, each call under a timeout; reusable across `map` calls
    (a Ray actor keeps one for its life). `fn` must be picklable (a module-level function or a partial).
    Each worker holds up to `depth` items, so it starts the next one while the caller is still busy
    with the last result (decoding overlaps the model); the timeout runs from when an item starts."""

    def __init__(self, fn: Callable[[Any], Any], *, jobs: int = 1, timeout: float = 60.0, depth: int = 2) -> None:
        self._ctx = _context()
        self.fn, self.jobs, self.timeout, self.depth = fn, max(1, jobs), timeout, max(1, depth)
        self._workers: list[_Worker] = []

    def _replace(self, w: _Worker, pending: list[Any]) -> None:
        """Kill a hung or dead worker; what it still held goes back to the front of the line."""
        w.kill()
        pending.extend(reversed(w.queue))
        self._workers[self._workers.index(w)] = _Worker(self._ctx, self.fn)

    def map(self, items: Iterable[Any]) -> Iterator[Outcome]:
        """Yield an `Outcome` per item, in completion order."""
        pending = list(items)[::-1]  # popped from the end
        while len(self._workers) < min(self.jobs, len(pending)):
            self._workers.append(_Worker(self._ctx, self.fn))
        while pending or any(w.queue for w in self._workers):
            for w in self._workers:
                while len(w.queue) < self.depth and pending:
                    w.submit(pending.pop())
            busy = {w.conn: w for w in self._workers if w.queue}
            deadline = min(w.started + w.limit(self.timeout) for w in busy.values())
            for conn in wait(list(busy), timeout=max(0.0, deadline - time.monotonic())):
                w = busy[conn]
                try:
                    status, value = conn.recv()
                except EOFError:  # the worker died (a crash in native code)
                    item, why = w.queue.popleft(), f"decoder process died (exit code {w.proc.exitcode})"
                    self._replace(w, pending)
                    yield Outcome(item, None, why)
                    continue
                if status == "ready":
                    w.became_ready()
                    continue
                if status == "part":  # progress: the item's clock starts again
                    w.started = time.monotonic()
                    yield Outcome(w.queue[0], value, None, partial=True)
                    continue
                item = w.answered()
                yield Outcome(item, value, None) if status == "ok" else Outcome(item, None, value)
            now = time.monotonic()
            for w in list(self._workers):
                if w.queue and now - w.started >= w.limit(self.timeout):
                    item, why = w.queue.popleft(), f"timed out after {self.timeout:g} s"
                    if not w.ready:
                        why = f"the worker process did not start within {w.limit(self.timeout):g} s"
                    self._replace(w, pending)
                    yield Outcome(item, None, why)

    def close(self) -> None:
        for w in self._workers:
            w.stop()
        self._workers = []

    def __enter__(self) -> IsolatedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_isolated(
    fn: Callable[[Any], Any], items: Iterable[Any], *, jobs: int = 1, timeout: float = 60.0
) -> Iterator[Outcome]:
    """Yield an `Outcome` per item, each call in a worker process under `timeout` seconds."""
    with IsolatedPool(fn, jobs=jobs, timeout=timeout) as pool:
        yield from pool.map(items)


_END = object()


def buffered(items: Iterable[Any], size: int, *, join: bool = False) -> Iterator[Any]:
    """The items of `items`, pulled by a background thread into a queue of up to `size`; an exception in
    `items` is raised here, in the consumer.

    Why: decoding and the model each hold a core of a small machine, and torch releases the GIL while it
    computes; one after the other, each waits for the other. Scoring, the workers' results also come back
    through pipes, and a worker whose pipe is full waits: without the thread they would stop decoding
    exactly when they should run ahead (and the thread keeps enforcing their timeouts).

    `join=True`: the thread is stopped and joined before this generator finishes, however it finishes (an
    error, a `break`, closing it), so whatever the items read from (an open video) is never used after the
    consumer has closed it. Without it the thread runs on to the end of `items`."""
    box: queue.Queue[Any] = queue.Queue(maxsize=max(1, size))
    stop = threading.Event()

    def pull() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                box.put((item, None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            box.put((None, e))
        box.put((_END, None))

    worker = threading.Thread(target=pull, name="read-ahead" if join else "buffered", daemon=True)
    worker.start()
    try:
        while True:
            item, error = box.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        if join:
            stop.set()
            while worker.is_alive():  # let a blocked put go through
                with contextlib.suppress(queue.Empty):
                    box.get(timeout=0.05)
            worker.join()


def read_ahead(items: Iterable[Any], size: int) -> Iterator[Any]:
    """`buffered(items, size, join=True)`: never outlives its consumer."""
    return buffered(items, size, join=True)
