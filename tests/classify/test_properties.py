"""Hostile input never crashes the classifier, and evidence always points into it."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.classify import Classifier, load_classifier
from monitor.classify.normalize import normalize_token

CLASSIFIER: Classifier = load_classifier()
WORDS = st.sampled_from(
    ["Syrie", "cessez-le-feu", "перемирия", "الهدنة", "G-20", "Polizei", "sanctions", "UE", "Gaza", "FIFA",
     " ", "\u0301", "ـ", "(AFP) - ", "\n", "'", "٢٠"]
)
TEXT = st.one_of(
    st.text(max_size=300), st.lists(st.one_of(WORDS, st.text(max_size=5)), max_size=60).map("".join)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, TEXT, TEXT)
def test_never_crashes_and_evidence_is_exact(title: str, summary: str, body: str) -> None:
    fields = {"title": title, "summary": summary, "body": body}
    matches = CLASSIFIER.classify(title, summary, body)
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    for match in matches:
        assert 0.0 < match.score <= 1.0
        for e in match.evidence:
            assert 0 <= e.start < e.end <= len(fields[e.field])
            assert fields[e.field][e.start : e.end] == e.text


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize_token(text)
    assert normalize_token(once) == once


def test_huge_body_is_bounded() -> None:
    body = ("Der Waffenstillstand in Syrien hält. " + "x" * 60 + " ") * 12_000  # ~1.2 MB
    start = time.perf_counter()
    matches = CLASSIFIER.classify("", "", body)
    assert time.perf_counter() - start < 1.0
    assert matches and matches[0].topic == "syria_ceasefire"


def test_empty_and_non_string_fields() -> None:
    assert CLASSIFIER.classify("") == []
    assert CLASSIFIER.classify(None, 5, b"x") == []  # type: ignore[arg-type]
