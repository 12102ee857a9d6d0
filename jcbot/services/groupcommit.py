"""Group commit: what concurrent coroutines submit, written in one transaction per group, off the event loop."""
from __future__ import annotations

import asyncio
from collections.abc import Callable


class GroupCommit:
    """Writes what concurrent deliveries submit in one transaction per group (group commit).

    Ten sends finishing together make one transaction, not ten queued on SQLite's write
    lock, and each caller resumes only once its own row is committed: a "sent" is
    recorded within milliseconds (the dispatcher's RECORD_LINGER_S at most, to be written with others),
    which keeps the window for a repeat after a crash short.
    """

    def __init__(self, write: Callable[[list], list], *, linger_s: float = 0.0,
                 urgent: Callable[[object], bool] | None = None, enough: int = 0) -> None:
        self.write = write
        self.queue: list[tuple[object, asyncio.Future]] = []
        self.task: asyncio.Task | None = None
        # A group with nothing urgent waits up to linger_s for more (until `enough` are queued):
        # fewer, larger transactions for what nobody waits on.
        self.linger_s, self.urgent, self.enough = linger_s, urgent, enough
        self.arrived = asyncio.Event()

    async def submit(self, item: object) -> object:
        future = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        self.arrived.set()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain(), name="outbox-group-commit")
        return await future

    def _may_wait(self) -> bool:
        return bool(self.linger_s) and len(self.queue) < self.enough and \
            not any(self.urgent is None or self.urgent(item) for item, _ in self.queue)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self.queue:
            until = loop.time() + self.linger_s
            while self._may_wait() and (left := until - loop.time()) > 0:
                self.arrived.clear()
                try:
                    await asyncio.wait_for(self.arrived.wait(), left)
                except TimeoutError:
                    break
            group, self.queue = self.queue, []
            try:
                results = await asyncio.to_thread(self.write, [item for item, _ in group])
            except BaseException as error:  # noqa: BLE001 - handed to every waiting caller
                for _, future in group:
                    if not future.done():
                        future.set_exception(error if isinstance(error, Exception) else RuntimeError(repr(error)))
                if not isinstance(error, Exception):
                    raise
                continue
            for (_, future), result in zip(group, results):
                if not future.done():
                    future.set_result(result)
