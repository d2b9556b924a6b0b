"""Adaptive micro-batching: concurrent requests share one ``predict`` call.

Each request arrives already validated and coerced (a bad request never reaches a batch).
The batcher takes every request that is waiting; when more requests are still being read
or validated it waits for them up to ``window`` seconds, never past ``max_rows`` rows. With
nothing else on the way it runs at once, so a lone client pays no window. The frames are
concatenated, predicted in one call on the model thread and the results handed back per
request. When a batched call raises (or returns the wrong number of rows), every request
of the batch is retried on its own, so one request that makes the model fail never fails
the others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: predict(frame, proba) -> one JSON-ready result per row (list) or a dict of such lists
PredictFn = Callable[[pd.DataFrame, bool], dict[str, list[Any]]]


@dataclass
class _Item:
    frame: pd.DataFrame
    proba: bool
    future: asyncio.Future[dict[str, list[Any]]] = field(repr=False)


class MicroBatcher:
    """Gathers concurrent requests into batches and runs them on one model thread.

    ``window_ms`` is the longest a batch waits for requests still being read (0: every
    request is predicted alone); ``max_rows`` caps the rows of one call (a larger request
    still runs, alone). With ``in_thread`` (the default) a batch runs on a dedicated thread
    while more requests are on the way, so the event loop reads and validates them meanwhile
    and the next batch is ready when the model is free; a lone request runs on the loop
    (no thread hand-off). The model is never called concurrently.
    """

    def __init__(
        self,
        predict: PredictFn,
        window_ms: float = 2.0,
        max_rows: int = 4096,
        on_batch: Callable[[int, int], None] | None = None,
        on_rows: Callable[[pd.DataFrame], None] | None = None,
        in_thread: bool = True,
    ) -> None:
        self._predict = predict
        self.window = max(0.0, window_ms) / 1000.0
        self.max_rows = max(1, max_rows)
        self._on_batch = on_batch
        self._on_rows = on_rows
        self.in_thread = in_thread
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="model")
        self._task: asyncio.Task[None] | None = None
        self.arriving = 0  # requests admitted but not yet submitted (read/parse/validate)

    def start(self) -> None:
        """Start the gathering task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run_forever())

    async def stop(self) -> None:
        """Stop gathering (after in-flight batches) and release the model thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    def run_sync(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run ``fn`` on the model thread (warm-up, large validations)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def submit(self, frame: pd.DataFrame, proba: bool = False) -> dict[str, list[Any]]:
        """Predict ``frame`` (coerced, valid) in the next batch; returns this frame's results."""
        future: asyncio.Future[dict[str, list[Any]]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item(frame, proba, future))
        return await future

    async def _gather(self) -> list[_Item]:
        items = [await self._queue.get()]
        rows = len(items[0].frame)
        if self.window == 0:
            return items
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.window
        while rows < self.max_rows:
            while not self._queue.empty() and rows < self.max_rows:
                nxt = self._queue.get_nowait()
                items.append(nxt)
                rows += len(nxt.frame)
            if rows >= self.max_rows or self.arriving <= 0:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                nxt = await asyncio.wait_for(self._queue.get(), remaining)
            except asyncio.TimeoutError:
                break
            items.append(nxt)
            rows += len(nxt.frame)
        return items

    async def _run_forever(self) -> None:
        while True:
            items = await self._gather()
            # nothing else on the way: predicting on the loop saves two thread hand-offs
            alone = self.arriving <= 0 and self._queue.empty()
            if self.in_thread and not alone:
                outcomes = await asyncio.get_running_loop().run_in_executor(
                    self._executor, self._predict_items, items
                )
            else:
                outcomes = self._predict_items(items)
            if self._on_batch is not None:
                self._on_batch(len(items), sum(len(i.frame) for i in items))
            for item, outcome in zip(items, outcomes, strict=True):
                if item.future.done():  # the client went away
                    continue
                if isinstance(outcome, BaseException):
                    item.future.set_exception(outcome)
                else:
                    item.future.set_result(outcome)

    def _predict_items(self, items: list[_Item]) -> list[dict[str, list[Any]] | BaseException]:
        """On the model thread: one predict call per kind (labels, probabilities)."""
        outcomes: list[dict[str, list[Any]] | BaseException] = [
            RuntimeError("not predicted")
        ] * len(items)
        for proba in (False, True):
            group = [i for i, item in enumerate(items) if item.proba is proba]
            if not group:
                continue
            results = self._predict_group([items[i] for i in group])
            for index, outcome in zip(group, results, strict=True):
                outcomes[index] = outcome
        return outcomes

    def _predict_group(
        self, items: list[_Item], track: bool = True
    ) -> list[dict[str, list[Any]] | BaseException]:
        frames = [item.frame for item in items]
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        if track and self._on_rows is not None:
            with contextlib.suppress(Exception):  # drift tracking never fails a prediction
                self._on_rows(frame)
        try:
            result = self._predict(frame, items[0].proba)
        except Exception as exc:
            if len(items) == 1:
                return [exc]
            return [self._predict_group([item], track=False)[0] for item in items]
        if len(items) == 1:
            return [result]
        if any(len(v) != len(frame) for v in result.values()):  # not one result per row
            return [self._predict_group([item], track=False)[0] for item in items]
        out: list[dict[str, list[Any]] | BaseException] = []
        start = 0
        for part in frames:
            stop = start + len(part)
            out.append({key: values[start:stop] for key, values in result.items()})
            start = stop
        return out
