"""The engine's shortcuts change nothing: unvalidated result models, bounded caches
emptied at any moment, the per-topic pre-filter, the dateline pre-check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from monitor.classify import Classifier, engine, lexicon, load_classifier
from monitor.classify.normalize import TOKEN_RE
from monitor.models import Evidence, TopicMatch

CLASSIFIER = load_classifier()
DEV = Path(__file__).resolve().parents[1] / "data" / "classify_dev.jsonl"


def dev_items() -> list[dict[str, Any]]:
    lines = DEV.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def results(classifier: Classifier, items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [
        [m.model_dump() for m in classifier.classify(i["title"], i.get("summary", ""), i.get("body", ""))]
        for i in items
    ]


def test_fast_models_equal_validated_models() -> None:
    assert engine.FAST_MODELS
    fast = engine._fast_evidence("r", "Syrie", "title", 0, 5)
    valid = Evidence(rule="r", text="Syrie", field="title", start=0, end=5)
    assert fast == valid and hash(fast) == hash(valid)
    assert fast.__pydantic_fields_set__ == valid.__pydantic_fields_set__
    other = engine._fast_evidence("r", "x", "title", 0, 1)
    assert fast.__pydantic_fields_set__ is not other.__pydantic_fields_set__
    match = engine._fast_topic_match("sanctions", 0.5, [fast])
    validated = TopicMatch(topic="sanctions", score=0.5, evidence=[valid])
    assert match == validated
    assert match.model_dump_json() == validated.model_dump_json()
    with pytest.raises(ValidationError):  # still frozen
        fast.start = 3  # type: ignore[misc]


def test_matches_are_model_instances(classifier: Classifier) -> None:
    (match,) = classifier.classify("Syrie: la trêve globalement respectée")
    assert type(match) is TopicMatch and all(type(e) is Evidence for e in match.evidence)
    assert TopicMatch.model_validate(match.model_dump()) == match


def test_tiny_caches_give_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    items = dev_items()
    expected = results(load_classifier(), items)
    monkeypatch.setattr(lexicon, "CACHE_LIMIT", 3)
    monkeypatch.setattr(engine, "LIVE_CACHE_LIMIT", 2)
    small = load_classifier()
    assert results(small, items) == expected
    assert results(small, items) == expected  # warm (and repeatedly emptied) caches
    lex = small._lexicon
    for cache in (
        lex.cache,
        lex.chunk_info,
        lex.chunk_tokens,
        lex.token_entries,
        lex.contexts,
        lex.chunk_contexts,
    ):
        assert len(cache) <= 3
    assert len(small._live) <= 2


def test_caches_emptied_between_prefilter_and_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    items = dev_items()
    expected = results(load_classifier(), items)
    classifier = load_classifier()
    results(classifier, items)  # warm
    scan = classifier._scan

    def scan_after_clearing(*args: Any) -> Any:
        lex = classifier._lexicon
        for cache in (
            lex.cache,
            lex.chunk_info,
            lex.chunk_tokens,
            lex.token_entries,
            lex.contexts,
            lex.chunk_contexts,
        ):
            cache.clear()
        lex._spans.clear()
        lex._forms.clear()
        return scan(*args)

    monkeypatch.setattr(classifier, "_scan", scan_after_clearing)
    assert results(classifier, items) == expected


@pytest.mark.parametrize(
    "text",
    [
        "AMMAN, 9 juillet 2017 (AFP) - Un cessez-le-feu",
        "МОСКВА, 7 июля. /ТАСС/. Режим прекращения огня",
        "HAMBURG - Police",
        "هامبورغ (رويترز) - اعتقال",
        "Режим прекращения огня в Сирии в целом соблюдается",
        "Le cessez-le-feu (fragile) tient",
        "",
    ],
)
def test_dateline_precheck_is_exact(text: str) -> None:
    head = text[:160]
    match = engine._DATELINE_AGENCY.match(head) or engine._DATELINE_CAPS.match(head)
    assert engine.dateline_end(text) == (match.end() if match else 0)


def test_only_live_topics_are_scanned(classifier: Classifier) -> None:
    # "sécurité" alone makes no topic live: nothing of g20_security is looked at.
    _layout, mask, live = classifier._may_fire(("La sécurité sociale", "", ""))
    assert mask and not live
    assert classifier.classify("La sécurité sociale") == []


PIECES = st.sampled_from(
    [
        "Syrie",
        "cessez-le-feu",
        "Conseil de sécurité",
        "l'ONU",
        "-",
        " - ",
        "—",
        "  ",
        "\t",
        "\n",
        "(AFP)",
        "G-20",
        "a.b.c",
        "...",
        "д'",
        "ال",
        "\u0301",
        "north",
        "Korea",
        " ",
        " ",
    ]
)
FIELD = st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=40).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FIELD, st.integers(0, 4), st.integers(0, 4))
def test_positions_spans_and_windows_match_the_token_regex(text: str, back: int, forward: int) -> None:
    """Token positions from chunk counts, spans from the locator and phrase windows
    from neighbouring chunks equal what the token regex gives on the whole field."""
    classifier = CLASSIFIER
    lex = classifier._lexicon
    layout, _, _ = classifier._may_fire(("", text, ""))
    classifier._scan(("", text, ""), layout, -1)  # every concept live
    matches = list(TOKEN_RE.finditer(text))
    tokens = [m.group() for m in matches]
    locator = engine._Locator(text, layout, 1, lex)
    for t, m in enumerate(matches):
        assert locator.span(t) == m.span()
        assert locator.locate(t, min(t + 2, len(matches) - 1)) == (
            m.start(),
            matches[min(t + 2, len(matches) - 1)].end(),
        )
    t = 0
    for j, chunk in enumerate(layout[0][1]):
        chunk_tokens = lex.tokens_of(chunk)
        for offset in range(len(chunk_tokens)):
            low = max(0, t - back)
            expected = (tuple(tokens[low : t + forward + 1]), t - low)
            assert engine._window(layout[0][1], j, chunk_tokens, offset, (back, forward), lex) == expected
            t += 1
    assert t == len(tokens)


PHRASE_PIECES = st.sampled_from(
    [
        "Conseil",
        "de",
        "sécurité",
        "-",
        "—",
        "Syrie",
        "sanctions",
        "contre",
        "la",
        "Russie",
        "G20",
        "Hamburg",
        "Polizei",
        "central",
        "bank",
        "North",
        "Korea",
        "haute",
        "sociale",
        "mesures",
        "cessez-le-feu",
        "l'UE",
        "x",
    ]
)
PHRASE_TEXT = st.lists(PHRASE_PIECES, max_size=14).map(" ".join)


def _clear(classifier: Classifier) -> None:
    lex = classifier._lexicon
    for cache in (
        lex.cache,
        lex.chunk_info,
        lex.chunk_tokens,
        lex.token_entries,
        lex.contexts,
        lex.chunk_contexts,
    ):
        cache.clear()
    classifier._live.clear()


COLD = load_classifier()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PHRASE_TEXT, PHRASE_TEXT)
def test_warm_caches_answer_as_cold_ones(title: str, summary: str) -> None:
    """Memoised answers (chunk values, phrase contexts keyed by chunks, live topics)
    never depend on the item they were first computed for."""
    warm = CLASSIFIER.classify(title, summary)
    _clear(COLD)
    assert [m.model_dump() for m in warm] == [m.model_dump() for m in COLD.classify(title, summary)]


def test_long_chunks_are_not_cached() -> None:
    classifier = load_classifier()
    long_word = "Syrie" + "x" * 500
    title = f"Trêve en Syrie {long_word} cessez-le-feu-{'y' * 300} Syrie"
    first = classifier.classify(title)
    lex = classifier._lexicon
    for cache in (lex.cache, lex.chunk_info, lex.chunk_tokens, lex.token_entries, lex._spans, lex._forms):
        assert all(len(key) <= lexicon.KEY_CHARS_LIMIT for key in cache)
    assert [m.topic for m in first] == ["syria_ceasefire"]
    assert classifier.classify(title) == first
