"""Parse and normalise off the event loop.

feedparser is pure Python and CPU-bound (~3-5k items/s a core), so documents are
parsed in worker processes: the loop stays responsive and both cores work. The worker
function is top-level and returns plain picklable data.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
from dataclasses import dataclass, field

from ..errors import ParseError
from ..models import WireItem
from .normalize import FeedContext, normalise_feed
from .parse import parse_feed


@dataclass(slots=True)
class ParseOutput:
    items: list[WireItem] = field(default_factory=list)
    format: str = ""
    entries: int = 0
    problem: str | None = None
    problem_kind: str | None = None
    error: str | None = None  # set when no items could be read (ParseError message)


def parse_and_normalise(content: bytes, content_type: str | None, url: str, ctx: FeedContext) -> ParseOutput:
    """Bytes → normalised items. Never raises: failures come back in ``error``."""
    try:
        feed = parse_feed(content, content_type, url)
    except ParseError as exc:
        return ParseOutput(error=str(exc))
    items = normalise_feed(feed, ctx, base_url=url)
    return ParseOutput(
        items=items,
        format=feed.format,
        entries=len(feed.entries),
        problem=feed.problem,
        problem_kind=feed.problem_kind,
    )


class ParsePool:
    """Runs ``parse_and_normalise`` in ``workers`` processes (0: in a thread)."""

    def __init__(self, workers: int = -1) -> None:
        if workers < 0:
            workers = min(4, os.cpu_count() or 1)
        self.workers = workers
        self._executor: concurrent.futures.Executor
        if workers == 0:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wiremon-parse")
        else:
            # forkserver: never fork a process that runs threads (sqlite, aiokafka)
            context = multiprocessing.get_context("forkserver")
            self._executor = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)

    async def run(self, content: bytes, content_type: str | None, url: str, ctx: FeedContext) -> ParseOutput:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, parse_and_normalise, content, content_type, url, ctx)
        except concurrent.futures.BrokenExecutor:
            # a worker died (OOM-killed on a hostile document): start a fresh pool, report this one
            self.close(wait=False)
            self.__init__(self.workers)  # type: ignore[misc]
            return ParseOutput(error="the parser process died on this document (killed or out of memory)")

    def close(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=True)
