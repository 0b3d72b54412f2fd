"""The compiled matcher: one pass over an item's tokens, then the rules of the
topics whose concepts occurred.

Per item the work is: split each field into raw tokens (one C-level regex pass),
look every token up in the combined :class:`~monitor.classify.lexicon.Lexicon`
cache (C-level ``map``), and handle in Python only the few tokens that hit a term.
Rules are evaluated only for topics that had a hit, so the cost does not grow with
the number of loaded topics. Character spans are computed only for the evidence
that is returned.

Scoring (``docs/classifier.md`` has the reasoning): each rule firing has a strength
``rule.weight × field_weight(field of the anchor) × position factor`` (body hits fade
from 1.0 to 0.5 past the lede, since wire copy puts the point of the story first);
a topic's score is ``1 − Π(1 − strength)`` over its firings (at most
:data:`MAX_FIRINGS_PER_RULE` per rule), so it lies in 0..1, grows with independent
evidence and never reaches 1 on repetition alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, compress, repeat

from monitor.classify.definitions import TopicDefinition
from monitor.classify.lexicon import Lexicon
from monitor.classify.normalize import TOKEN_RE
from monitor.models import Evidence, FieldName, TopicMatch

FIELD_NAMES: tuple[FieldName, FieldName, FieldName] = ("title", "summary", "body")
FIELD_CAPS = (2_000, 20_000, 50_000)
"""Characters analysed per field (title, summary, body). Wire copy fits well within
them; the caps bound the time spent on a hostile or mis-parsed 1 MB field. Text past
a cap is ignored, and evidence offsets stay valid because the cap is a prefix."""
FIELD_GAP = 5
"""Token distance added between fields: a title and its summary are near, not adjacent."""
LEDE_TOKENS = 80
MAX_FIRINGS_PER_RULE = 3
MAX_STRENGTH = 0.9
MAX_EVIDENCE = 12

# A hit: (global start, global end inclusive, field index, local start, local end inclusive).
Hit = tuple[int, int, int, int, int]
_MISSING = object()
_SPLIT_RE = re.compile(f"({TOKEN_RE.pattern})")

# A dateline opens a summary or body: "BRUXELLES, 2 mars 2014 (AFP) - ", "Ammán, 9 jul (EFE).-",
# "هامبورغ (رويترز) - ", or, after an ALL-CAPS place, "МОСКВА, 12 февраля — " / "МОСКВА, 7 июля. /ТАСС/.".
_DATELINE_AGENCY = re.compile(
    r"^\s*(?:<[^>]{0,40}>\s*)*[^\n.!?]{1,90}?\([^()\n]{1,40}\)\s*[.,]?\s*[-\u2013\u2014]+"
)
_DATELINE_CAPS = re.compile(
    r"^\s*(?:<[^>]{0,40}>\s*)*[^\W\d_a-z]{2,}[^\n.!?]{0,60}?(?:\s[-\u2013\u2014]+\s|\.?\s*/[^/\n]{1,20}/)"
)


def dateline_end(text: str) -> int:
    """Length of the dateline that opens *text* (0 if none). Pure; looks at 160 chars."""
    head = text[:160]
    match = _DATELINE_AGENCY.match(head) or _DATELINE_CAPS.match(head)
    return match.end() if match else 0


@dataclass(frozen=True, slots=True)
class _Exclusion:
    id: str
    concept: int
    when: str
    window: int


@dataclass(frozen=True, slots=True)
class _Rule:
    id: str
    concepts: tuple[int, ...]
    window: int | None
    weight: float
    exclusions: tuple[_Exclusion, ...]


@dataclass(frozen=True, slots=True)
class _Topic:
    id: str
    rules: tuple[_Rule, ...]
    field_weights: tuple[float, float, float]
    min_score: float
    languages: tuple[str, ...]


def _distance(a: Hit, b: Hit) -> int:
    """Tokens between two hits; 0 when they overlap, 1 when adjacent."""
    return max(b[0] - a[1], a[0] - b[1], 0)


def _position_factor(field: int, local: int) -> float:
    if field < 2 or local < LEDE_TOKENS:
        return 1.0
    return max(0.5, 1.0 - (local - LEDE_TOKENS) / 800)


class Classifier:
    """Classifies items against a fixed set of compiled topic definitions.

    Immutable after construction (reload by building a new one); ``classify`` is
    safe to call from several threads at once.
    """

    def __init__(self, definitions: Sequence[TopicDefinition]) -> None:
        concept_ids: dict[tuple[str, str], int] = {}
        terms: list[tuple[str, int]] = []
        skip_dateline: set[int] = set()
        for definition in definitions:
            for name, concept in definition.concepts.items():
                cid = concept_ids.setdefault((definition.id, name), len(concept_ids))
                if concept.skip_dateline:
                    skip_dateline.add(cid)
                terms.extend((term, cid) for lang_terms in concept.terms.values() for term in lang_terms)
        self._concept_topic: list[int] = [0] * len(concept_ids)
        topics: list[_Topic] = []
        for index, definition in enumerate(definitions):
            for name in definition.concepts:
                self._concept_topic[concept_ids[(definition.id, name)]] = index
            rules = []
            for rule in definition.rules:
                exclusions = tuple(
                    _Exclusion(e.id, concept_ids[(definition.id, e.concept)], e.when, e.window)
                    for e in definition.exclusions
                    if e.rules is None or rule.id in e.rules
                )
                concepts = tuple(concept_ids[(definition.id, c)] for c in rule.all_of)
                rules.append(_Rule(rule.id, concepts, rule.window, rule.weight, exclusions))
            fw = definition.field_weights
            topics.append(
                _Topic(
                    id=definition.id,
                    rules=tuple(rules),
                    field_weights=(fw.get("title", 1.0), fw.get("summary", 0.75), fw.get("body", 0.5)),
                    min_score=definition.min_score,
                    languages=tuple(definition.languages()),
                )
            )
        self._topics = tuple(topics)
        self._skip_dateline = frozenset(skip_dateline)
        self._by_id = {t.id: t for t in topics}
        self._lexicon = Lexicon(terms, len(concept_ids))

    @property
    def topics(self) -> list[str]:
        """Ids of the loaded topics, in load order."""
        return [t.id for t in self._topics]

    def languages(self, topic_id: str) -> list[str]:
        """Languages the topic has terms for. Raises ``KeyError`` for an unknown topic."""
        return list(self._by_id[topic_id].languages)

    def classify(
        self, title: str, summary: str = "", body: str = "", language: str | None = None
    ) -> list[TopicMatch]:
        """Return the topics that apply to the item, best score first (ties by id).

        ``language`` is accepted for the service's interface but not used to select
        terms: every language's terms are always applied, because wire items mix
        languages (quotes, names) and declared languages are often wrong.
        Never raises on any ``str`` input; non-``str`` fields are treated as empty.
        """
        texts = tuple(
            text[:cap] if isinstance(text, str) else ""
            for text, cap in zip((title, summary, body), FIELD_CAPS, strict=True)
        )
        split_parts: list[list[str]] = [[], [], []]
        hits = self._scan(texts, split_parts)
        if not hits:
            return []
        touched = sorted({self._concept_topic[c] for c in hits})
        matches: list[TopicMatch] = []
        for index in touched:
            match = self._evaluate(self._topics[index], hits, texts, split_parts)
            if match is not None:
                matches.append(match)
        matches.sort(key=lambda m: (-m.score, m.topic))
        return matches

    def _scan(self, texts: tuple[str, ...], split_parts: list[list[str]]) -> dict[int, list[Hit]]:
        """Find every concept occurrence in the fields, keyed by concept id; store
        each field's ``_SPLIT_RE.split`` parts in *split_parts*."""
        lexicon = self._lexicon
        cache_get = lexicon.cache.get
        n_concepts = lexicon.n_concepts
        hits: dict[int, list[Hit]] = {}
        base = 0
        for field, text in enumerate(texts):
            if not text:
                continue
            # split() with a capturing group alternates separators and tokens, so the
            # offsets of any token can later be summed up in C (see _evidence).
            parts = _SPLIT_RE.split(text)
            tokens = parts[1::2]
            split_parts[field] = parts
            dateline = 0
            if field and self._skip_dateline:
                end = dateline_end(text)
                dateline = len(TOKEN_RE.findall(text[:end])) if end else 0
            values = list(map(cache_get, tokens, repeat(_MISSING)))
            # compress() keeps the truthy values: cached hits and unseen tokens.
            for i in compress(range(len(values)), values):
                keys = values[i]
                if keys is _MISSING:
                    keys = lexicon.resolve(tokens[i])
                    if keys is None:
                        continue
                assert isinstance(keys, tuple)
                for key in keys:
                    if key < n_concepts:
                        if i < dateline and key in self._skip_dateline:
                            continue
                        hits.setdefault(key, []).append((base + i, base + i, field, i, i))
                        continue
                    span = lexicon.phrase_span(key, tokens, i)
                    if span is not None:
                        first, last = span
                        for concept in lexicon.phrases[key - n_concepts].concepts:
                            if first < dateline and concept in self._skip_dateline:
                                continue
                            hit = (base + first, base + last, field, first, last)
                            hits.setdefault(concept, []).append(hit)
            base += len(tokens) + FIELD_GAP
        return hits

    def _evaluate(
        self, topic: _Topic, hits: dict[int, list[Hit]], texts: tuple[str, ...], split_parts: list[list[str]]
    ) -> TopicMatch | None:
        firings: list[tuple[float, str, list[Hit]]] = []
        for rule in topic.rules:
            anchors = hits.get(rule.concepts[0])
            if not anchors:
                continue
            count = 0
            for anchor in anchors:
                fired = self._fire(rule, anchor, hits)
                if fired is None:
                    continue
                field, local = anchor[2], anchor[3]
                strength = rule.weight * topic.field_weights[field] * _position_factor(field, local)
                # One firing alone never makes a certainty; the cap leaves room for more evidence.
                strength = min(strength, MAX_STRENGTH)
                firings.append((strength, rule.id, fired))
                count += 1
                if count >= MAX_FIRINGS_PER_RULE:
                    break
        if not firings:
            return None
        firings.sort(key=lambda f: -f[0])
        remaining = 1.0
        for strength, _, _ in firings:
            remaining *= 1.0 - strength
        score = round(min(1.0, max(0.0, 1.0 - remaining)), 4)
        if score < topic.min_score or score <= 0.0:
            return None
        return TopicMatch(topic=topic.id, score=score, evidence=_evidence(firings, texts, split_parts))

    @staticmethod
    def _fire(rule: _Rule, anchor: Hit, hits: dict[int, list[Hit]]) -> list[Hit] | None:
        """The hits of one firing of *rule* at *anchor* (anchor first), or ``None``."""
        used = [anchor]
        farthest = 0
        for concept in rule.concepts[1:]:
            candidates = hits.get(concept)
            if not candidates:
                return None
            best = min(candidates, key=lambda h: _distance(anchor, h))
            dist = _distance(anchor, best)
            if rule.window is not None and dist > rule.window:
                return None
            farthest = max(farthest, dist)
            used.append(best)
        for exc in rule.exclusions:
            found = hits.get(exc.concept)
            if not found:
                continue
            if exc.when == "item":
                return None
            near = min(_distance(anchor, h) for h in found)
            if exc.when == "overlap" and near == 0:
                return None
            if exc.when == "window" and near <= exc.window:
                return None
            if exc.when == "nearer":
                # A single-concept rule has no partner to compare with: "nearer"
                # then means "within the exclusion's window".
                limit = farthest if len(rule.concepts) > 1 else exc.window + 1
                if near < limit:
                    return None
        return used


def _evidence(
    firings: list[tuple[float, str, list[Hit]]], texts: tuple[str, ...], split_parts: list[list[str]]
) -> list[Evidence]:
    """Evidence for the strongest firings, with spans into the original field text."""
    chosen: list[tuple[str, Hit]] = []
    seen: set[tuple[str, int, int]] = set()
    for _, rule_id, used in firings:
        for hit in used:
            key = (rule_id, hit[0], hit[1])
            if key not in seen:
                seen.add(key)
                chosen.append((rule_id, hit))
        if len(chosen) >= MAX_EVIDENCE:
            break
    offsets: dict[int, list[int]] = {}
    out = []
    for rule_id, hit in chosen[:MAX_EVIDENCE]:
        field = hit[2]
        if field not in offsets:
            # offsets[k] = length of parts[:k]; token i is parts[2i + 1]
            offsets[field] = list(accumulate(map(len, split_parts[field]), initial=0))
        start = offsets[field][2 * hit[3] + 1]
        end = offsets[field][2 * hit[4] + 2]
        text = texts[field][start:end]
        out.append(Evidence(rule=rule_id, text=text, field=FIELD_NAMES[field], start=start, end=end))
    return out
