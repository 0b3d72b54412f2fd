"""Parse, normalise and classify off the event loop.

feedparser is pure Python and CPU-bound (~3-5k items/s a core), and so is the
classifier, so both run in worker processes: the loop stays responsive and every core
works. A poll makes two trips: the document goes out and normalised items come back;
after dedupe, only the new and updated items go out again to be classified (in steady
state most items of a changed feed are ones already seen, and classifying them would
be wasted).

Each worker builds its own classifier from the same definition files and rebuilds it
when the service bumps ``generation`` (SIGHUP reload); the service validated the
files first, and a worker that fails to load keeps its previous set.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ParseError, TopicDefinitionError
from ..models import TopicMatch, WireItem
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


Texts = Sequence[tuple[str, str, str, str | None]]


@dataclass(frozen=True, slots=True)
class ClassifierSpec:
    """What a worker needs to build the service's classifier."""

    dirs: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    generation: int = 0


_WORKER_STATE: dict[str, Any] = {}  # per worker process: (generation, classifier)


def classify_texts(spec: ClassifierSpec, texts: Texts) -> list[list[TopicMatch]]:
    """Classify ``(title, summary, body, language)`` tuples in a worker process."""
    from pathlib import Path

    from ..classify import load_classifier

    cached = _WORKER_STATE.get("classifier")
    if cached is None or cached[0] != spec.generation:
        try:
            fresh = load_classifier([Path(d) for d in spec.dirs], spec.disabled)
        except TopicDefinitionError:
            if cached is None:
                raise
            fresh = cached[1]  # the files changed again since the service validated them
        cached = (spec.generation, fresh)
        _WORKER_STATE["classifier"] = cached
    classifier = cached[1]
    return [classifier.classify(*t) for t in texts]


def _warm(spec: ClassifierSpec) -> None:
    import time

    classify_texts(spec, [("", "", "", None)])
    time.sleep(0.05)  # hold this worker so that the next warm-up task lands on another


class ParsePool:
    """Runs ``parse_and_normalise`` and classification in ``workers`` processes (0: a thread)."""

    def __init__(
        self,
        workers: int = -1,
        spec: ClassifierSpec | None = None,
        local_classify: Callable[[str, str, str, str | None], list[TopicMatch]] | None = None,
    ) -> None:
        self.spec = spec or ClassifierSpec()
        self.local_classify = local_classify
        if workers < 0:
            workers = min(4, os.cpu_count() or 1)
        self.workers = workers
        self._executor: concurrent.futures.Executor = self._new_executor()

    def _new_executor(self) -> concurrent.futures.Executor:
        if self.workers == 0:
            return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wiremon-parse")
        # forkserver: never fork a process that runs threads (sqlite, aiokafka)
        context = multiprocessing.get_context("forkserver")
        return concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context)

    async def run(self, content: bytes, content_type: str | None, url: str, ctx: FeedContext) -> ParseOutput:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, parse_and_normalise, content, content_type, url, ctx
            )
        except concurrent.futures.BrokenExecutor:
            # a worker died (OOM-killed on a hostile document): start a fresh pool, report this one
            self._restart()
            return ParseOutput(error="the parser process died on this document (killed or out of memory)")

    async def classify(self, texts: Texts) -> list[list[TopicMatch]]:
        """Topics of each text, in order; in the workers, or in a thread when workers == 0."""
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        if self.workers == 0 and self.local_classify is not None:
            fn = self.local_classify
            return await loop.run_in_executor(self._executor, lambda: [fn(*t) for t in texts])
        try:
            return await loop.run_in_executor(self._executor, classify_texts, self.spec, list(texts))
        except concurrent.futures.BrokenExecutor:
            self._restart()
            if self.local_classify is None:
                raise
            fn = self.local_classify
            return [fn(*t) for t in texts]

    async def warm_up(self) -> None:
        """Start every worker and build its classifier now, not on the first poll."""
        if self.workers == 0:
            return
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, _warm, self.spec) for _ in range(self.workers))
        )

    def bump_generation(self) -> None:
        """Topic definitions were reloaded: workers rebuild their classifier on next use."""
        self.spec = ClassifierSpec(self.spec.dirs, self.spec.disabled, self.spec.generation + 1)

    def _restart(self) -> None:
        self.close(wait=False)
        self._executor = self._new_executor()

    def close(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=True)
