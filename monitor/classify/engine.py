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

Scoring (``docs/classifier.md`` has the reasoning): each rule firing has a strength
``rule.weight × field_weight(field of the anchor) × position factor`` (body hits fade
from 1.0 to 0.5 past the lede, since wire copy puts the point of the story first);
a topic's score is ``1 − Π(1 − strength)`` over its firings (at most
:data:`MAX_FIRINGS_PER_RULE` per rule), so it lies in 0..1, grows with independent
evidence and never reaches 1 on repetition alone.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from itertools import accumulate, compress, repeat
from operator import itemgetter, or_

from pydantic import BaseModel

from monitor.classify.definitions import TopicDefinition
from monitor.classify.lexicon import COUNT_BITS, COUNT_MASK, Lexicon
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

# Per field (title, summary, body): its whitespace-delimited chunks and, once
# scanned, for the chunks that are not exactly one token: their index, first token
# and end token (exclusive); every other chunk is one token.
_Special = tuple[list[int], list[int], list[int]]
_Layout = tuple[tuple[list[str], list[str], list[str]], list[list[int]], list[_Special]]
_UNSEEN = 1 << (COUNT_BITS - 1)
"""Stands for a chunk not in the cache while the pre-filter ORs chunk values: a bit of
the token-count part that no real chunk sets (a field cap of 50 000 characters
allows at most 25 000 tokens in a chunk)."""
LIVE_CACHE_LIMIT = 4_096
# A hit: (global start, global end inclusive, field index, local start, local end inclusive).
Hit = tuple[int, int, int, int, int]
_MISSING = object()

# A dateline opens a summary or body: "BRUXELLES, 2 mars 2014 (AFP) - ", "Ammán, 9 jul (EFE).-",
# "هامبورغ (رويترز) - ", or, after an ALL-CAPS place, "МОСКВА, 12 февраля — " / "МОСКВА, 7 июля. /ТАСС/.".
_DATELINE_AGENCY = re.compile(
    r"^\s*(?:<[^>]{0,40}>\s*)*[^\n.!?]{1,90}?\([^()\n]{1,40}\)\s*[.,]?\s*[-\u2013\u2014]+"
)
_DATELINE_CAPS = re.compile(
    r"^\s*(?:<[^>]{0,40}>\s*)*[^\W\d_a-z]{2,}[^\n.!?]{0,60}?(?:\s[-\u2013\u2014]+\s|\.?\s*/[^/\n]{1,20}/)"
)


# Something each pattern needs (a cheap search first: the patterns' lazy repeats make
# a failing match cost several microseconds).
_DATELINE_CAPS_NEEDS = re.compile(r"\s[-\u2013\u2014]+\s|/[^/\n]{1,20}/")


def dateline_end(text: str) -> int:
    """Length of the dateline that opens *text* (0 if none). Pure; looks at 160 chars."""
    head = text[:160]
    match = _DATELINE_AGENCY.match(head) if "(" in head else None
    if match is None and _DATELINE_CAPS_NEEDS.search(head):
        match = _DATELINE_CAPS.match(head)
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
    mask: int  # bits of ``concepts``: the rule can fire only if the item has them all


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
                mask = reduce(or_, (1 << c for c in concepts), 0)
                rules.append(_Rule(rule.id, concepts, rule.window, rule.weight, exclusions, mask))
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
        entity_maps: list[_EntityMap | None] = [None, None, None]
        if "&" in title or "&" in summary or "&" in body:
            unescaped = []
            for field, text in enumerate(originals):
                if "&" in text:
                    text, entity_maps[field] = _unescape(text)
                unescaped.append(text)
            texts = (unescaped[0], unescaped[1], unescaped[2])
        layout, mask, live = self._may_fire(texts)
        if not live:
            return []
        hits = self._scan(texts, layout, live)
        if not hits:
            return []
        concept_topic = self._concept_topic
        touched = sorted({concept_topic[c] for c in hits})
        matches: list[TopicMatch] = []
        locators: dict[int, _Locator] = {}  # per field, shared by the topics' evidence
        for index in touched:
            match = self._evaluate(self._topics[index], hits, texts, layout, locators, mask)
            if match is not None:
                matches.append(match)
        if any(entity_maps):
            matches = [_remap(m, originals, entity_maps) for m in matches]
        matches.sort(key=lambda m: (-m.score, m.topic))
        return matches

    def _may_fire(self, texts: tuple[str, ...]) -> tuple[_Layout, int, int]:
        """Cheap pre-filter: each field's whitespace chunks, the mask of the concepts
        that may occur in the item, and the mask of the *live* concepts: those of the
        topics with a rule whose concepts all may occur (0 when no rule can fire).

        Works on whitespace-delimited chunks (``str.split`` is several times faster
        than the token regex) through a per-chunk cache of concept bit masks and
        token counts; most wire items stop here.
        """
        info_get = self._lexicon.chunk_info.get
        mask = 0
        layout: _Layout = ((texts[0].split(), texts[1].split(), texts[2].split()), [], [])
        for chunks in layout[0]:
            infos = list(map(info_get, chunks, repeat(_UNSEEN)))
            layout[1].append(infos)
            if infos:
                field_mask = reduce(or_, set(infos), 0)  # few distinct values: mostly 0
                if field_mask & _UNSEEN:  # new chunks (a fresh number or name is usual)
                    field_mask |= _add_unseen(chunks, infos, self._lexicon)
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

    def _scan(self, texts: tuple[str, ...], layout: _Layout, live: int) -> dict[int, list[Hit]]:
        """Find every occurrence of a *live* concept in the fields, keyed by concept id.

        Most chunks are one token that triggers nothing (cached value 0); only the
        others, found in C, are looked at in Python: they give the token positions
        (with their token counts) and, if their mask has a live concept, the hits.
        A phrase is checked once per distinct run of raw tokens around its indexed
        word (:meth:`Lexicon.context`). No regex runs over the whole field.
        """
        lexicon = self._lexicon
        entries_get = lexicon.token_entries.get
        contexts_get = lexicon.contexts.get
        chunk_contexts_get = lexicon.chunk_contexts.get
        tokens_of = lexicon.tokens_of
        tokens_get = lexicon.chunk_tokens.get
        skip_dateline = self._skip_dateline
        hits: dict[int, list[Hit]] = {}
        base = 0
        layout[2][:] = [([], [], []), ([], [], []), ([], [], [])]
        for field, chunks in enumerate(layout[0]):
            if not chunks:
                continue
            infos = layout[1][field]
            # The chunks that are not one token, with their first token and end
            # (exclusive); kept for _evidence.
            sp_chunk, sp_first, sp_end = layout[2][field]
            extra = 0  # tokens before chunk j: j + extra
            # Tokens of the dateline, computed on the first hit that cares (-1: not yet).
            dateline = -1 if field and skip_dateline else 0
            for j in compress(range(len(infos)), infos):
                info = infos[j]
                i = j + extra
                if info & COUNT_MASK:  # not one token
                    count = (info & COUNT_MASK) ^ 1
                    sp_chunk.append(j)
                    sp_first.append(i)
                    sp_end.append(i + count)
                    extra += count - 1
                if not (info >> COUNT_BITS) & live:
                    continue
                chunk_tokens = tokens_get(chunks[j]) or tokens_of(chunks[j])
                i -= 1
                for offset, raw in enumerate(chunk_tokens):
                    i += 1
                    entry = entries_get(raw)
                    if entry is None:
                        entry = lexicon.entries(raw)
                    concepts, reach = entry
                    for concept in concepts:
                        if not (live >> concept) & 1:
                            continue
                        if concept in skip_dateline:
                            if dateline < 0:
                                dateline = _dateline_tokens(texts[field])
                            if i < dateline:
                                continue
                        hit = (base + i, base + i, field, i, i)
                        found = hits.get(concept)
                        if found is None:
                            hits[concept] = [hit]
                        else:
                            found.append(hit)
                    if reach is None:
                        continue
                    # Memoised on the neighbouring chunks (a slice, no tokenising) when
                    # they hold the whole window; else on the window's tokens.
                    low = j - reach[0] if j > reach[0] else 0
                    high = j + reach[1] + 1
                    chunk_key = (tuple(chunks[low:high]), j - low, offset, low == 0, high >= len(chunks))
                    matched = chunk_contexts_get(chunk_key)
                    if matched is None:
                        window, at, first_chunk, last_chunk = _window_chunks(
                            chunks, j, chunk_tokens, offset, reach, lexicon
                        )
                        matched = contexts_get((window, at))
                        if matched is None:
                            matched = lexicon.context(window, at)
                        if first_chunk >= low and last_chunk < high:
                            lexicon.remember_chunk_context(chunk_key, matched)
                    for concept, first, last in matched:
                        if not (live >> concept) & 1:
                            continue
                        first += i
                        if concept in skip_dateline:
                            if dateline < 0:
                                dateline = _dateline_tokens(texts[field])
                            if first < dateline:
                                continue
                        last += i
                        hit = (base + first, base + last, field, first, last)
                        found = hits.get(concept)
                        if found is None:
                            hits[concept] = [hit]
                        else:
                            found.append(hit)
            base += len(chunks) + extra + FIELD_GAP
        return hits

    def _evaluate(
        self,
        topic: _Topic,
        hits: dict[int, list[Hit]],
        texts: tuple[str, ...],
        layout: _Layout,
        locators: dict[int, _Locator],
        mask: int,
    ) -> TopicMatch | None:
        firings: list[tuple[float, str, list[Hit]]] = []
        fire = self._fire
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
                    strength *= _position_factor(field, anchor[3])
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
        evidence = _evidence(firings, texts, layout, self._lexicon, locators)
        return _topic_match(topic.id, score, evidence)

    @staticmethod
    def _fire(rule: _Rule, anchor: Hit, hits: dict[int, list[Hit]]) -> list[Hit] | None:
        """The hits of one firing of *rule* at *anchor* (anchor first), or ``None``."""
        used = [anchor]
        farthest = 0
        window = rule.window
        for concept in rule.concepts[1:]:
            candidates = hits.get(concept)
            if not candidates:
                return None
            dist, best = _nearest(anchor, candidates)
            if window is not None and dist > window:
                return None
            if dist > farthest:
                farthest = dist
            used.append(best)
        for exc in rule.exclusions:
            found = hits.get(exc.concept)
            if not found:
                continue
            if exc.when == "item":
                return None
            near = _nearest(anchor, found)[0]
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


def _nearest(anchor: Hit, candidates: list[Hit]) -> tuple[int, Hit]:
    """The first of *candidates* nearest to *anchor*, and its :func:`_distance`."""
    first, last = anchor[0], anchor[1]
    best = candidates[0]
    best_dist = 1 << 62
    for hit in candidates:
        dist = hit[0] - last
        if dist < 0:
            dist = first - hit[1]
            if dist < 0:
                dist = 0
        if dist < best_dist:
            best_dist, best = dist, hit
            if not dist:
                break
    return best_dist, best


def _evidence(
    firings: list[tuple[float, str, list[Hit]]],
    texts: tuple[str, ...],
    layout: _Layout,
    lexicon: Lexicon,
    locators: dict[int, _Locator],
) -> list[Evidence]:
    """Evidence for the strongest firings, with spans into the original field text:
    each distinct (rule, hit) in firing order, at most :data:`MAX_EVIDENCE`."""
    out: list[Evidence] = []
    seen: set[tuple[str, int, int]] = set()
    evidence_of = _evidence_of
    for _, rule_id, used in firings:
        for hit in used:
            key = (rule_id, hit[0], hit[1])
            if key in seen:
                continue
            seen.add(key)
            field = hit[2]
            locator = locators.get(field)
            if locator is None:
                locator = locators[field] = _Locator(texts[field], layout, field, lexicon)
            start, end = locator.locate(hit[3], hit[4])
            out.append(evidence_of(rule_id, texts[field][start:end], FIELD_NAMES[field], start, end))
            if len(out) == MAX_EVIDENCE:
                return out
    return out


class _Locator:
    """Character offsets of a field's tokens, from its whitespace chunks.

    Chunk starts are summed in C when the chunks are separated by single
    whitespace characters (the usual case); otherwise they are found one by one
    with ``str.find``, which is exact because a chunk starts with a non-space and
    only whitespace separates chunks.
    """

    __slots__ = ("_chunks", "_lengths", "_lexicon", "_special", "_starts", "_text")

    def __init__(self, text: str, layout: _Layout, field: int, lexicon: Lexicon) -> None:
        self._text = text
        self._chunks = chunks = layout[0][field]
        self._lexicon = lexicon
        self._special = layout[2][field]
        self._lengths = list(accumulate(map(len, chunks), initial=0))
        self._starts: list[int] | None = None
        if self._lengths[-1] + len(chunks) - 1 != len(text):
            starts = []
            pos = 0
            for chunk in chunks:
                pos = text.find(chunk, pos)
                starts.append(pos)
                pos += len(chunk)
            self._starts = starts

    def _chunk_of(self, token: int) -> tuple[int, int]:
        """``(chunk index, token index inside the chunk)`` of token *token*."""
        sp_chunk, sp_first, sp_end = self._special
        k = bisect_right(sp_first, token) - 1
        if k < 0:  # only one-token chunks before it
            return token, 0
        if token < sp_end[k]:
            return sp_chunk[k], token - sp_first[k]
        return sp_chunk[k] + 1 + token - sp_end[k], 0

    def span(self, token: int) -> tuple[int, int]:
        """``(start, end)`` of token number *token* of the field."""
        j, offset = self._chunk_of(token)
        start, end = self._lexicon.token_spans(self._chunks[j])[offset]
        base = self._lengths[j] + j if self._starts is None else self._starts[j]
        return base + start, base + end

    def locate(self, first: int, last: int) -> tuple[int, int]:
        """``(start, end)`` of the field's tokens *first* to *last* (inclusive)."""
        sp_chunk, sp_first, sp_end = self._special
        k = bisect_right(sp_first, first) - 1
        if k < 0:  # only one-token chunks before it (as in _chunk_of)
            j, offset = first, 0
        elif first < sp_end[k]:
            j, offset = sp_chunk[k], first - sp_first[k]
        else:
            j, offset = sp_chunk[k] + 1 + first - sp_end[k], 0
        spans = self._lexicon.token_spans(self._chunks[j])
        base = self._lengths[j] + j if self._starts is None else self._starts[j]
        if last - first < len(spans) - offset:  # the last token is in the same chunk
            return base + spans[offset][0], base + spans[offset + last - first][1]
        return base + spans[offset][0], self.span(last)[1]


def _add_unseen(chunks: list[str], infos: list[int], lexicon: Lexicon) -> int:
    """Replace each :data:`_UNSEEN` in *infos* by its chunk's computed value; return
    those values OR-ed together."""
    added = 0
    i = -1
    index = infos.index
    try:
        while True:
            i = index(_UNSEEN, i + 1)
            infos[i] = info = lexicon.chunk_mask(chunks[i])
            added |= info
    except ValueError:
        return added


def _window(
    chunks: list[str],
    j: int,
    chunk_tokens: tuple[str, ...],
    offset: int,
    reach: tuple[int, int],
    lexicon: Lexicon,
) -> tuple[tuple[str, ...], int]:
    """The raw tokens from ``reach[0]`` before to ``reach[1]`` after token *offset*
    of chunk *j* (fewer at the field's ends), and the position of that token in them."""
    return _window_chunks(chunks, j, chunk_tokens, offset, reach, lexicon)[:2]


def _window_chunks(
    chunks: list[str],
    j: int,
    chunk_tokens: tuple[str, ...],
    offset: int,
    reach: tuple[int, int],
    lexicon: Lexicon,
) -> tuple[tuple[str, ...], int, int, int]:
    """:func:`_window`, plus the first and last chunk whose tokens were looked at."""
    back, forward = reach
    low = offset - back
    high = offset + forward + 1
    if low >= 0 and high <= len(chunk_tokens):
        return chunk_tokens[low:high], back, j, j
    get = lexicon.chunk_tokens.get
    before = chunk_tokens[low if low > 0 else 0 : offset]
    k = j
    while len(before) < back and k > 0:
        k -= 1
        before = (get(chunks[k]) or lexicon.tokens_of(chunks[k])) + before
    if len(before) > back:
        before = before[len(before) - back :]
    first_chunk = k
    after = chunk_tokens[offset:high]
    k = j
    last = len(chunks) - 1
    while len(after) <= forward and k < last:
        k += 1
        after += get(chunks[k]) or lexicon.tokens_of(chunks[k])
    return before + after[: forward + 1], len(before), first_chunk, k


def _dateline_tokens(text: str) -> int:
    end = dateline_end(text)
    return len(TOKEN_RE.findall(text[:end])) if end else 0


# (positions in the unescaped text where each entity's replacement starts, then for
# each entity: unescaped start, unescaped length, original start, original length)
_EntityMap = tuple[list[int], list[tuple[int, int, int, int]]]
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")


def _unescape(text: str) -> tuple[str, _EntityMap | None]:
    """HTML-unescape *text* (``tr&ecirc;ve`` -> ``trêve``), with the map that brings
    offsets back to the original text; ``(text, None)`` when nothing changes."""
    pieces: list[str] = []
    entities: list[tuple[int, int, int, int]] = []
    last = 0
    new_len = 0
    for match in _ENTITY_RE.finditer(text):
        replacement = html.unescape(match.group())
        if replacement == match.group():
            continue
        start = match.start()
        pieces.append(text[last:start])
        new_len += start - last
        entities.append((new_len, len(replacement), start, match.end() - start))
        pieces.append(replacement)
        new_len += len(replacement)
        last = match.end()
    if not entities:
        return text, None
    pieces.append(text[last:])
    return "".join(pieces), ([e[0] for e in entities], entities)


def _to_original(entity_map: _EntityMap, pos: int, is_end: bool) -> int:
    starts, entities = entity_map
    k = bisect_right(starts, pos - 1 if is_end else pos) - 1
    if k < 0:
        return pos
    new_start, new_len, old_start, old_len = entities[k]
    if pos < new_start + new_len or (is_end and pos == new_start + new_len):
        return old_start + old_len if is_end else old_start
    return old_start + old_len + (pos - new_start - new_len)


def _remap(match: TopicMatch, originals: tuple[str, ...], maps: list[_EntityMap | None]) -> TopicMatch:
    """Move evidence offsets from unescaped text back into the original fields."""
    evidence = []
    for e in match.evidence:
        entity_map = maps[FIELD_NAMES.index(e.field)]
        if entity_map is None:
            evidence.append(e)
            continue
        start = _to_original(entity_map, e.start, False)
        end = _to_original(entity_map, e.end, True)
        original = originals[FIELD_NAMES.index(e.field)]
        evidence.append(_evidence_of(e.rule, original[start:end], e.field, start, end))
    return _topic_match(match.topic, match.score, evidence)


# Building the result models. Their validation is redundant here (the engine only
# produces valid values: topic ids are validated when the classifier is built, offsets
# are non-negative, scores are clamped to 0..1), and it was the largest cost of a
# matching item after the scan. So the instances are assembled the way pydantic's own
# validator leaves them: ``__dict__`` with every field, all fields marked as set, no
# extra, no private attributes. Measured per instance: ``Evidence(...)`` 1.6 us,
# ``Evidence.model_construct(...)`` 2.7 us, this 1.0 us. :func:`_check_fast_models`
# compares the result with the validating constructor at import and falls back to it
# if a pydantic version builds instances differently.
_new_evidence = Evidence.__new__
_new_match = TopicMatch.__new__
_set = object.__setattr__
# BaseModel's slots, set through their descriptors (faster than ``object.__setattr__``).
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_EVIDENCE_FIELDS = set(Evidence.model_fields)
_MATCH_FIELDS = set(TopicMatch.model_fields)


def _fast_evidence(rule: str, text: str, field: FieldName, start: int, end: int) -> Evidence:
    evidence = _new_evidence(Evidence)
    _set(evidence, "__dict__", {"rule": rule, "text": text, "field": field, "start": start, "end": end})
    _set_fields_set(evidence, _EVIDENCE_FIELDS.copy())
    _set_extra(evidence, None)
    _set_private(evidence, None)
    return evidence


def _fast_topic_match(topic: str, score: float, evidence: list[Evidence]) -> TopicMatch:
    match = _new_match(TopicMatch)
    _set(match, "__dict__", {"topic": topic, "score": score, "evidence": evidence})
    _set_fields_set(match, _MATCH_FIELDS.copy())
    _set_extra(match, None)
    _set_private(match, None)
    return match


def _valid_evidence(rule: str, text: str, field: FieldName, start: int, end: int) -> Evidence:
    return Evidence(rule=rule, text=text, field=field, start=start, end=end)


def _valid_topic_match(topic: str, score: float, evidence: list[Evidence]) -> TopicMatch:
    return TopicMatch(topic=topic, score=score, evidence=evidence)


def _same_instance(a: BaseModel, b: BaseModel) -> bool:
    return (
        type(a) is type(b)
        and a.__dict__ == b.__dict__
        and a.__pydantic_fields_set__ == b.__pydantic_fields_set__
        and a.__pydantic_extra__ == b.__pydantic_extra__
        and a.__pydantic_private__ == b.__pydantic_private__
        and a.model_dump() == b.model_dump()
        and a == b
    )


def _check_fast_models() -> bool:
    """Whether the fast constructors build the same instances as validation."""
    try:
        valid = _valid_evidence("rule", "text", "summary", 1, 5)
        fast = _fast_evidence("rule", "text", "summary", 1, 5)
        return (
            _same_instance(valid, fast)
            and hash(valid) == hash(fast)
            and _same_instance(
                _valid_topic_match("topic", 0.5, [valid]), _fast_topic_match("topic", 0.5, [fast])
            )
        )
    except Exception:
        return False


FAST_MODELS = _check_fast_models()
_evidence_of = _fast_evidence if FAST_MODELS else _valid_evidence
_topic_match = _fast_topic_match if FAST_MODELS else _valid_topic_match
