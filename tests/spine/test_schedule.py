from __future__ import annotations

from monitor.ingest.schedule import DueQueue, next_delay


def test_interval_with_jitter() -> None:
    assert next_delay(60) == 60
    assert next_delay(60, jitter=0.1, rand=0.5) == 63


def test_backoff_doubles_and_caps() -> None:
    delays = [next_delay(10, failures=n, backoff_max=300) for n in range(1, 8)]
    assert delays == [20, 40, 80, 160, 300, 300, 300]


def test_backoff_never_below_interval() -> None:
    assert next_delay(7200, failures=3, backoff_max=3600) == 7200


def test_retry_after_is_honoured() -> None:
    assert next_delay(1, failures=1, retry_after=7) == 7
    assert next_delay(1, failures=1, retry_after=10**9) == 86_400


def test_due_queue_orders_and_supersedes() -> None:
    q = DueQueue()
    q.schedule("a", 5)
    q.schedule("b", 1)
    q.schedule("a", 0.5)  # supersedes the 5
    assert q.next_due() == 0.5
    assert q.pop_due(2) == ["a", "b"]
    assert q.pop_due(10) == []
    assert len(q) == 0
