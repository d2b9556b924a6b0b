"""Adaptive micro-batching: concurrent requests share one ``predict`` call.

Each request arrives already validated (a bad request never reaches a batch). The batcher
takes every request that is waiting, gives the event loop two turns (requests already in the
socket buffers get read and start validating), and while more requests are still being read
or validated waits for them up to ``window`` seconds, never past ``max_rows`` rows. With
nothing else on the way it runs at once, so a lone client pays no window. The parts are
merged into one frame (by ``merge``: the server validates small requests as plain columns and
builds ONE DataFrame per batch), predicted in one call and the results handed back per
request. When a batched call raises (or returns the wrong number of rows), every request
of the batch is retried on its own, so one request that makes the model fail never fails
the others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable
from typing import Any

#: predict(frame, proba) -> one JSON-ready result per row (list) or a dict of such lists
PredictFn = Callable[[Any, bool], dict[str, list[Any]]]
#: loop turns a batch gives requests already received to reach the batcher
_YIELDS = 2
#: merge(parts) -> the one frame of a batch (parts: whatever ``submit`` was given)
MergeFn = Callable[[list[Any]], Any]


def concat_frames(parts: list[Any]) -> Any:
    """The default ``merge``: the parts are DataFrames, concatenated in order."""
    if len(parts) == 1:
        return parts[0]
    import pandas as pd

    return pd.concat(parts, ignore_index=True)


class Columns:
    """A validated small request as raw values per contract column (coerced per batch)."""

    __slots__ = ("rows", "values")

    def __init__(self, rows: int, values: dict[str, list[Any]]) -> None:
        self.rows, self.values = rows, values

    def __len__(self) -> int:
        return self.rows


class _Item:
    __slots__ = ("future", "part", "proba", "rows")

    def __init__(
        self, part: Any, rows: int, proba: bool, future: asyncio.Future[dict[str, list[Any]]]
    ) -> None:
        self.part, self.rows, self.proba, self.future = part, rows, proba, future


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
        on_rows: Callable[[Any], None] | None = None,
        in_thread: bool = True,
        merge: MergeFn = concat_frames,
    ) -> None:
        self._predict = predict
        self.window = max(0.0, window_ms) / 1000.0
        self.max_rows = max(1, max_rows)
        self._on_batch = on_batch
        self._on_rows = on_rows
        self.in_thread = in_thread
        self._merge = merge
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="model")
        self._task: asyncio.Task[None] | None = None
        self.arriving = 0  # requests admitted but not yet submitted (read/parse/validate)
        self._shared = True  # the last batch had company: look for more before predicting

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

    async def submit(
        self, part: Any, proba: bool = False, rows: int | None = None
    ) -> dict[str, list[Any]]:
        """Predict ``part`` (a coerced frame, or what ``merge`` reads; valid) in the next
        batch; returns the results of its ``rows`` rows (default ``len(part)``)."""
        future: asyncio.Future[dict[str, list[Any]]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(part, len(part) if rows is None else rows, proba, future))
        return await future

    async def _gather(self) -> list[_Item]:
        items = [await self._queue.get()]
        rows = items[0].rows
        if self.window == 0:
            return items
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.window
        if self._shared and self.arriving <= 0 and rows < self.max_rows:
            # under concurrency, requests already in the socket buffers are not visible yet:
            # two turns of the loop read them and start their handlers (``arriving``)
            for _ in range(_YIELDS):
                await asyncio.sleep(0)
        while rows < self.max_rows:
            while not self._queue.empty() and rows < self.max_rows:
                nxt = self._queue.get_nowait()
                items.append(nxt)
                rows += nxt.rows
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
            rows += nxt.rows
        self._shared = len(items) > 1  # a lone client (c=1) skips the loop turns
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
                self._on_batch(len(items), sum(i.rows for i in items))
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
        try:
            frame = self._merge([item.part for item in items])
        except Exception as exc:
            if len(items) == 1:
                return [exc]
            return [self._predict_group([item], track)[0] for item in items]
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
        for item in items:
            stop = start + item.rows
            out.append({key: values[start:stop] for key, values in result.items()})
            start = stop
        return out
