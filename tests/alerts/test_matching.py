"""Pure matching and throttle tests: no I/O, no clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitor.alerts.matching import (
    EventText,
    ThrottleState,
    compile_subscription,
    digest_due,
    digest_flushed,
    match,
    normalize_text,
    should_alert,
    throttle_verdict,
    wants_breaking,
)
from monitor.alerts.models import DigestThrottle, LimitThrottle

from .helpers import event, subscription, topic


def run(sub_fields: dict[str, object], **event_fields: object) -> object:
    m = compile_subscription(subscription(**sub_fields))  # type: ignore[arg-type]
    ev = event(**event_fields)  # type: ignore[arg-type]
    return match(m, ev, EventText(ev))


def test_topic_and_score() -> None:
    assert run({"topics": ["sanctions"]}) is not None
    assert run({"topics": ["g20_security"]}) is None
    assert run({"topics": ["sanctions"], "min_score": 0.9}) is None
    got = run({"topics": []}, topics=[topic("sanctions", 0.3), topic("syria_ceasefire", 0.9)])
    assert [t.topic for t in got] == ["syria_ceasefire", "sanctions"]  # type: ignore[union-attr]


def test_empty_topics_and_zero_score_accepts_untagged_items() -> None:
    assert run({}, topics=[]) == ()
    assert run({"min_score": 0.1}, topics=[]) is None


def test_language_agency_urgency_active() -> None:
    assert run({"languages": ["en"]}) is None
    assert run({"languages": ["en", "fr"]}) is not None
    assert run({"agencies": ["reuters"]}) is None
    assert run({"agencies": ["afp"]}) is not None  # agencies compare case-insensitively
    assert run({"urgent_only": True}) is None
    assert run({"urgent_only": True}, urgency="flash") is not None
    assert run({"active": False}) is None


def test_phrases_fold_case_and_accents_and_match_whole_words() -> None:
    assert run({"phrases": ["HAMBOURG"]}, title="Sommet à Hambourg") is not None
    assert run({"phrases": ["poutine"]}, title="POUTINE rencontre Trump") is not None
    assert run({"phrases": ["a hambourg"]}, title="Sommet à Hambourg") is not None
    assert run({"phrases": ["ham"]}, title="Sommet à Hambourg") is None
    assert run({"phrases": ["élysée"]}, body="l'Elysee a dit") is not None
    assert run({"phrases": ["trump", "merkel"]}, title="Trump") is None
    assert run({"phrases": ["trump", "merkel"], "phrase_mode": "any"}, title="Trump") is not None


def test_phrase_cannot_span_two_fields() -> None:
    assert run({"phrases": ["hamburg summit"]}, title="Hamburg", body="Summit") is None


@given(st.text(max_size=50))
def test_normalize_is_idempotent_and_padded(text: str) -> None:
    once = normalize_text(text)
    assert once.startswith(" ") and once.endswith(" ")
    assert normalize_text(once) == once


def test_once_per_item_and_updates() -> None:
    plain = compile_subscription(subscription())
    updates = compile_subscription(subscription(include_updates=True))
    assert should_alert(plain, 1, None)
    assert not should_alert(plain, 1, 1)
    assert not should_alert(plain, 2, 1)
    assert should_alert(updates, 2, 1)
    assert not should_alert(updates, 2, 2)
    assert should_alert(plain, 3, None)  # first sight of an item at revision 3 still alerts


def test_wants_breaking() -> None:
    assert not wants_breaking(compile_subscription(subscription()), "sanctions")
    yes = compile_subscription(subscription(breaking=True, topics=["sanctions"]))
    assert wants_breaking(yes, "sanctions") and not wants_breaking(yes, "g20_security")
    assert wants_breaking(compile_subscription(subscription(breaking=True)), "anything")


def test_limit_throttle_sliding_window() -> None:
    policy = LimitThrottle(mode="limit", max_alerts=2, window_minutes=1)
    state = ThrottleState()
    verdicts = []
    for now in (0.0, 10.0, 20.0, 59.0, 61.0, 71.0):
        v, state = throttle_verdict(policy, state, now)
        verdicts.append(v)
    # 0 and 10 pass; 20 and 59 are over the limit; at 61 the 0 has left the window; at 71 the 10 has.
    assert verdicts == ["send", "send", "suppress", "suppress", "send", "send"]


def test_no_throttle_sends() -> None:
    assert throttle_verdict(None, ThrottleState(), 5.0)[0] == "send"


def test_digest_holds_then_falls_due() -> None:
    policy = DigestThrottle(mode="digest", every_minutes=5)
    state = ThrottleState()
    assert digest_due(policy, state) is None
    v, state = throttle_verdict(policy, state, 100.0)
    assert v == "hold" and digest_due(policy, state) == 400.0
    v, state = throttle_verdict(policy, state, 200.0)
    assert v == "hold" and digest_due(policy, state) == 400.0  # a later alert does not push the digest
    state = digest_flushed(state)
    assert digest_due(policy, state) is None
    _, state = throttle_verdict(policy, state, 500.0)
    assert digest_due(policy, state) == 800.0
    # Switched away from digest with alerts held: due at once.
    assert digest_due(None, state) == 500.0
