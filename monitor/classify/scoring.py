"""Scoring a topic from its rule firings.

A firing has strength ``rule.weight × field_weight(field of the anchor) ×
position factor`` (body hits fade from 1.0 to 0.5 past the first
:data:`LEDE_TOKENS` tokens, since wire copy puts the point of the story first),
capped at :data:`MAX_STRENGTH`; a topic's score is ``1 − Π(1 − strength)`` over
its firings (at most :data:`MAX_FIRINGS_PER_RULE` per rule), so it lies in 0..1,
grows with independent evidence and never reaches 1 on repetition alone. A topic
below its ``min_score`` (or at 0) gives no match. ``docs/classifier.md`` has the
reasoning.
"""

from __future__ import annotations

from operator import itemgetter

from monitor.classify.evidence import Locator, build_evidence
from monitor.classify.lexicon import Lexicon
from monitor.classify.results import topic_match
from monitor.classify.rules import CompiledTopic, fire_rule
from monitor.classify.scan import Hit, Layout
from monitor.models import TopicMatch

LEDE_TOKENS = 80
MAX_FIRINGS_PER_RULE = 3
MAX_STRENGTH = 0.9


def position_factor(field: int, local: int) -> float:
    if field < 2 or local < LEDE_TOKENS:
        return 1.0
    return max(0.5, 1.0 - (local - LEDE_TOKENS) / 800)


def evaluate_topic(
    topic: CompiledTopic,
    hits: dict[int, list[Hit]],
    texts: tuple[str, ...],
    layout: Layout,
    locators: dict[int, Locator],
    mask: int,
    lexicon: Lexicon,
) -> TopicMatch | None:
    firings: list[tuple[float, str, list[Hit]]] = []
    fire = fire_rule
    field_weights = topic.field_weights
    for rule in topic.rules:
        if mask & rule.mask != rule.mask:  # some concept occurs nowhere in the item
            continue
        anchors = hits.get(rule.concepts[0])
        if not anchors:
            continue
        count = 0
        for anchor in anchors:
            fired = fire(rule, anchor, hits)
            if fired is None:
                continue
            field = anchor[2]
            strength = rule.weight * field_weights[field]
            if field == 2 and anchor[3] >= LEDE_TOKENS:
                strength *= position_factor(field, anchor[3])
            # One firing alone never makes a certainty; the cap leaves room for more evidence.
            if strength > MAX_STRENGTH:
                strength = MAX_STRENGTH
            firings.append((strength, rule.id, fired))
            count += 1
            if count >= MAX_FIRINGS_PER_RULE:
                break
    if not firings:
        return None
    firings.sort(key=itemgetter(0), reverse=True)  # stable, like key=-strength
    remaining = 1.0
    for strength, _, _ in firings:
        remaining *= 1.0 - strength
    score = round(min(1.0, max(0.0, 1.0 - remaining)), 4)
    if score < topic.min_score or score <= 0.0:
        return None
    evidence = build_evidence(firings, texts, layout, lexicon, locators)
    return topic_match(topic.id, score, evidence)
