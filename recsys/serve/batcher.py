"""Ranking the queries of concurrent requests together, on one thread (`Batcher`)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

MAX_BATCH = 64  # jobs of one kind answered together, at most

__all__ = ["MAX_BATCH", "Batcher"]


class Batcher:
    """Ranks the queries of concurrent requests together, on one thread.

    Ranking one query reads the whole item matrix (27,000 x 256 floats: 28 MB) for one
    matrix-vector product; 64 queries ranked together read it once. The thread takes the first
    waiting job and every job queued behind it (up to `max_batch`), so an idle server answers at
    once (a batch of one) and a busy one answers in batches as large as the load makes them. Only
    this thread ranks, so the model needs no locks. `submit` returns a concurrent Future."""

    def __init__(self, handlers: dict[str, Callable[[list], list]], max_batch: int = MAX_BATCH):
        self.handlers = handlers
        self.max_batch = max_batch
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="recsys-batcher", daemon=True)
        self._thread.start()

    def submit(self, kind: str, query: Any) -> Future:
        future: Future = Future()
        self._jobs.put((kind, query, future))
        return future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            while len(jobs) < self.max_batch:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)  # stop after this batch
                    break
                jobs.append(job)
            for kind in dict.fromkeys(kind for kind, _, _ in jobs):
                # set_running_or_notify_cancel: skip requests whose client went away
                group = [(q, f) for k, q, f in jobs if k == kind and f.set_running_or_notify_cancel()]
                if not group:
                    continue
                self._answer(self.handlers[kind], group)

    @staticmethod
    def _answer(handler: Callable[[list], list], group: list[tuple[Any, Future]]) -> None:
        """Answer a batch; if it fails, each query alone, so that only a failing query gets the
        error (an unexpected one: requests are validated before they are queued)."""
        try:
            answers = handler([query for query, _ in group])
        except BaseException as exc:
            if len(group) == 1:
                group[0][1].set_exception(exc)
                return
            for one in group:
                Batcher._answer(handler, [one])
            return
        for (_, future), answer in zip(group, answers):
            future.set_result(answer)
