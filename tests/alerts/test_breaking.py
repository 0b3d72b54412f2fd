"""Pure tests of the breaking-story detector (clock passed in)."""

from __future__ import annotations

from monitor.alerts.breaking import BreakingDetector

W = 600.0


def test_fires_at_k_distinct_agencies_once_per_window() -> None:
    d = BreakingDetector(3, W)
    assert d.observe("sanctions", "AFP", "a", 0, 0) is None
    assert d.observe("sanctions", "afp", "a2", 10, 10) is None  # same agency, any case
    assert d.observe("sanctions", "Reuters", "b", 20, 20) is None
    story = d.observe("sanctions", "AP", "c", 30, 30)
    assert story is not None
    assert story.agencies == ("afp", "reuters", "ap") and story.event_ids == ("a", "b", "c")
    assert story.first_seen == 0 and story.fired_at == 30
    assert d.observe("sanctions", "DPA", "d", 40, 40) is None  # same window
    assert d.observe("sanctions", "EFE", "e", 700, 700) is None  # new window, but only 1 recent agency
    d.observe("sanctions", "AFP", "f", 710, 710)
    assert d.observe("sanctions", "TASS", "g", 720, 720) is not None


def test_sightings_outside_the_window_do_not_count() -> None:
    d = BreakingDetector(3, W)
    d.observe("t", "AFP", "a", 0, 0)
    d.observe("t", "Reuters", "b", 100, 100)
    assert d.observe("t", "AP", "c", 650, 650) is None  # AFP fell out of the window


def test_old_and_future_items() -> None:
    d = BreakingDetector(2, W)
    assert d.observe("t", "AFP", "a", -10_000, 0) is None  # published long ago, polled now: ignored
    d.observe("t", "AFP", "a", 10**9, 0)  # clock skew: clamped to now
    assert d.observe("t", "AP", "b", 0, 0) is not None


def test_topics_are_independent_and_restore_blocks_refire() -> None:
    d = BreakingDetector(2, W)
    d.observe("x", "AFP", "a", 0, 0)
    d.observe("y", "AP", "b", 0, 0)
    assert d.observe("x", "AP", "c", 1, 1) is not None
    d2 = BreakingDetector(2, W)
    d2.restore({"x": 1.0})
    d2.observe("x", "AFP", "a", 2, 2)
    assert d2.observe("x", "AP", "c", 3, 3) is None


def test_prune_bounds_memory() -> None:
    d = BreakingDetector(2, W)
    for i in range(100):
        d.observe(f"t{i}", "AFP", "a", 0, 0)
    d.prune(10_000)
    assert not d._sightings and not d._fired
