"""The SQLite state: accept is atomic, the outbox is ordered and bounded, state survives."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import OutboxFullError, StateError
from monitor.ingest.dedup import decide
from monitor.models import WireItem
from monitor.store import FeedState, OutboxEvent, SeenRecord, StateStore


def ev(i: int, revision: int = 1, h: str = "h") -> OutboxEvent:
    return OutboxEvent(f"e{i}", revision, ("sanctions",), b'{"x":%d}' % i, h, 1.0, None)


def test_accept_is_atomic_and_ordered(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db", max_outbox=5)
    store.accept("f", FeedState("etag1", None, 0, 1.0), [ev(1), ev(2)])
    assert store.outbox_count == 2
    with pytest.raises(OutboxFullError) as info:
        store.accept("f", FeedState("etag2", None, 0, 2.0), [ev(3), ev(4), ev(5), ev(6)])
    assert "refused" in str(info.value) and "f:" in str(info.value)
    # nothing of the refused poll was written: not the events, not the seen rows, not the ETag
    assert store.outbox_count == 2
    assert store.feed_state("f").etag == "etag1"
    assert set(store.lookup_seen(["e3", "e1"])) == {"e1"}
    rows = store.outbox_batch(10)
    assert [r.event_id for r in rows] == ["e1", "e2"]
    store.outbox_delete([rows[0].seq])
    assert [r.event_id for r in store.outbox_batch(10)] == ["e2"]
    store.close()
    reopened = StateStore(tmp_path / "s.db", max_outbox=5)
    assert reopened.outbox_count == 1
    assert reopened.feed_state("f") == FeedState("etag1", None, 0, 1.0)
    assert reopened.lookup_seen(["e1"]) == {"e1": SeenRecord("h", 1)}


def test_prune_seen(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    store.accept("f", FeedState(), [ev(1)], now=100.0)
    store.accept("f", FeedState(), [ev(2)], now=200.0)
    assert store.prune_seen(150.0) == 1
    assert set(store.lookup_seen(["e1", "e2"])) == {"e2"}


def test_unusable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateError) as info:
        StateStore(blocker / "s.db")
    assert str(blocker) in str(info.value)


def item(event_id: str, h: str) -> WireItem:
    return WireItem(event_id=event_id, agency="AFP", feed_id="f", content_hash=h)


def test_decide_new_updated_duplicate() -> None:
    seen = {"a": SeenRecord("h1", 1), "b": SeenRecord("h2", 3)}
    out = decide([item("a", "h1"), item("b", "hX"), item("c", "h3")], seen)
    assert [(d.item.event_id, d.status, d.revision) for d in out] == [
        ("a", "duplicate", 1),
        ("b", "updated", 4),
        ("c", "new", 1),
    ]
