"""The compiled matcher: a pre-filter over an item's whitespace chunks, a scan of
the few chunks that matter, then the rules of the topics that can fire.

Per item the work is: split each field on whitespace and look every chunk up in
the :class:`~monitor.classify.lexicon.Lexicon` chunk cache (C-level ``map``); the
cached value holds the concepts the chunk may trigger and its token count, and is
0 for the usual chunk (one token, no term). Topics with a rule whose concepts all
may occur are *live*; if none is, the item stops there. Otherwise only the chunks
with a non-zero value are handled in Python, and only hits of live topics'
concepts are recorded, so the cost does not grow with the number of loaded
topics. Character spans are computed only for the evidence that is returned.

This module is the orchestrator: :class:`Classifier` compiles the definitions,
runs the pre-filter (and keeps its memo of live topics), then hands over to the
phases, each in its own module: :mod:`~monitor.classify.entities` (HTML
entities), :mod:`~monitor.classify.scan` (chunks and hits),
:mod:`~monitor.classify.rules` (rules and exclusions),
:mod:`~monitor.classify.scoring` (scores), :mod:`~monitor.classify.evidence`
(evidence spans) and :mod:`~monitor.classify.results` (building the result
models). It also re-exports the names other code and the tests import from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial, reduce
from itertools import repeat
from operator import or_

from monitor.classify.dateline import DATELINE_AGENCY as _DATELINE_AGENCY
from monitor.classify.dateline import DATELINE_CAPS as _DATELINE_CAPS
from monitor.classify.dateline import dateline_end
from monitor.classify.definitions import TopicDefinition
from monitor.classify.entities import EntityMap, remap, unescape
from monitor.classify.evidence import Locator
from monitor.classify.evidence import Locator as _Locator
from monitor.classify.lexicon import COUNT_BITS, Lexicon
from monitor.classify.results import FAST_MODELS
from monitor.classify.results import fast_evidence as _fast_evidence
from monitor.classify.results import fast_topic_match as _fast_topic_match
from monitor.classify.rules import CompiledExclusion, CompiledRule, CompiledTopic
from monitor.classify.scan import UNSEEN, Hit, Layout, add_unseen, scan
from monitor.classify.scan import token_window as _window
from monitor.classify.scoring import evaluate_topic
from monitor.models import TopicMatch

__all__ = [
    "FAST_MODELS",
    "LIVE_CACHE_LIMIT",
    "_DATELINE_AGENCY",
    "_DATELINE_CAPS",
    "Classifier",
    "_Locator",
    "_fast_evidence",
    "_fast_topic_match",
    "_window",
    "dateline_end",
]

FIELD_CAPS = (2_000, 20_000, 50_000)
"""Characters analysed per field (title, summary, body). Wire copy fits well within
them; the caps bound the time spent on a hostile or mis-parsed 1 MB field. Text past
a cap is ignored, and evidence offsets stay valid because the cap is a prefix."""
LIVE_CACHE_LIMIT = 4_096


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
        topics: list[CompiledTopic] = []
        for index, definition in enumerate(definitions):
            for name in definition.concepts:
                self._concept_topic[concept_ids[(definition.id, name)]] = index
            rules = []
            for rule in definition.rules:
                exclusions = tuple(
                    CompiledExclusion(e.id, concept_ids[(definition.id, e.concept)], e.when, e.window)
                    for e in definition.exclusions
                    if e.rules is None or rule.id in e.rules
                )
                concepts = tuple(concept_ids[(definition.id, c)] for c in rule.all_of)
                mask = reduce(or_, (1 << c for c in concepts), 0)
                rules.append(CompiledRule(rule.id, concepts, rule.window, rule.weight, exclusions, mask))
            fw = definition.field_weights
            topics.append(
                CompiledTopic(
                    id=definition.id,
                    rules=tuple(rules),
                    field_weights=(fw.get("title", 1.0), fw.get("summary", 0.75), fw.get("body", 0.5)),
                    min_score=definition.min_score,
                    languages=tuple(definition.languages()),
                )
            )
        self._topics = tuple(topics)
        for topic in topics:  # validated once here, so classify() can build matches unvalidated
            TopicMatch(topic=topic.id, score=0.0)
        # Pre-filter: a rule can fire only if every one of its concepts occurs; the
        # topics of the rules that can fire are "live", and only the concepts of live
        # topics (their rules' and exclusions' concepts) are scanned for.
        topic_concepts = [0] * len(topics)
        for cid, index in enumerate(self._concept_topic):
            topic_concepts[index] |= 1 << cid
        rule_masks: dict[int, int] = {}
        for index, topic in enumerate(topics):
            for compiled in topic.rules:
                rule_masks[compiled.mask] = rule_masks.get(compiled.mask, 0) | topic_concepts[index]
        self._rule_masks = tuple(sorted(rule_masks.items()))
        self._live: dict[int, int] = {}  # item mask -> live concepts (bounded cache)
        self._skip_dateline = frozenset(skip_dateline)
        self._by_id = {t.id: t for t in topics}
        self._lexicon = Lexicon(terms, len(concept_ids))
        # An attribute, not a method: the scan is a function of the lexicon and the
        # dateline concepts (no wrapper call per item).
        self._scan: Callable[[tuple[str, ...], Layout, int], dict[int, list[Hit]]] = partial(
            scan, self._lexicon, self._skip_dateline
        )

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
        # A field's capped text (an exact ``str``: slicing a subclass makes one).
        if type(title) is not str or len(title) > FIELD_CAPS[0]:
            title = title[: FIELD_CAPS[0]] if isinstance(title, str) else ""
        if type(summary) is not str or len(summary) > FIELD_CAPS[1]:
            summary = summary[: FIELD_CAPS[1]] if isinstance(summary, str) else ""
        if type(body) is not str or len(body) > FIELD_CAPS[2]:
            body = body[: FIELD_CAPS[2]] if isinstance(body, str) else ""
        originals = texts = (title, summary, body)
        entity_maps: list[EntityMap | None] = [None, None, None]
        if "&" in title or "&" in summary or "&" in body:
            unescaped = []
            for field, text in enumerate(originals):
                if "&" in text:
                    text, entity_maps[field] = unescape(text)
                unescaped.append(text)
            texts = (unescaped[0], unescaped[1], unescaped[2])
        layout, mask, live = self._may_fire(texts)
        if not live:
            return []
        hits = self._scan(texts, layout, live)
        if not hits:
            return []
        concept_topic = self._concept_topic
        lexicon = self._lexicon
        touched = sorted({concept_topic[c] for c in hits})
        matches: list[TopicMatch] = []
        locators: dict[int, Locator] = {}  # per field, shared by the topics' evidence
        for index in touched:
            match = evaluate_topic(self._topics[index], hits, texts, layout, locators, mask, lexicon)
            if match is not None:
                matches.append(match)
        if any(entity_maps):
            matches = [remap(m, originals, entity_maps) for m in matches]
        matches.sort(key=lambda m: (-m.score, m.topic))
        return matches

    def _may_fire(self, texts: tuple[str, ...]) -> tuple[Layout, int, int]:
        """Cheap pre-filter: each field's whitespace chunks, the mask of the concepts
        that may occur in the item, and the mask of the *live* concepts: those of the
        topics with a rule whose concepts all may occur (0 when no rule can fire).

        Works on whitespace-delimited chunks (``str.split`` is several times faster
        than the token regex) through a per-chunk cache of concept bit masks and
        token counts; most wire items stop here.
        """
        info_get = self._lexicon.chunk_info.get
        mask = 0
        layout: Layout = ((texts[0].split(), texts[1].split(), texts[2].split()), [], [])
        for chunks in layout[0]:
            infos = list(map(info_get, chunks, repeat(UNSEEN)))
            layout[1].append(infos)
            if infos:
                field_mask = reduce(or_, set(infos), 0)  # few distinct values: mostly 0
                if field_mask & UNSEEN:  # new chunks (a fresh number or name is usual)
                    field_mask |= add_unseen(chunks, infos, self._lexicon)
                mask |= field_mask
        mask >>= COUNT_BITS  # the token counts OR-ed together are meaningless
        if not mask:
            return layout, 0, 0
        live = self._live.get(mask)
        if live is None:
            live = 0
            for rule_mask, topic_concepts in self._rule_masks:
                if mask & rule_mask == rule_mask:
                    live |= topic_concepts
            if len(self._live) >= LIVE_CACHE_LIMIT:
                self._live.clear()
            self._live[mask] = live
        return layout, mask, live
