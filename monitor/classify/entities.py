"""HTML entities in a field (``tr&ecirc;ve``): unescaping, and mapping offsets back.

Guarantee: after :func:`remap`, every evidence entry of a match found on the
unescaped text has ``start``/``end`` in the original (escaped) field and
``text == original[start:end]``; an entity is never split (a span touching one
covers all of it).
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right

from monitor.classify.results import evidence_of, topic_match
from monitor.classify.scan import FIELD_NAMES
from monitor.models import TopicMatch

# (positions in the unescaped text where each entity's replacement starts, then for
# each entity: unescaped start, unescaped length, original start, original length)
EntityMap = tuple[list[int], list[tuple[int, int, int, int]]]
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")


def unescape(text: str) -> tuple[str, EntityMap | None]:
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


def _to_original(entity_map: EntityMap, pos: int, is_end: bool) -> int:
    starts, entities = entity_map
    k = bisect_right(starts, pos - 1 if is_end else pos) - 1
    if k < 0:
        return pos
    new_start, new_len, old_start, old_len = entities[k]
    if pos < new_start + new_len or (is_end and pos == new_start + new_len):
        return old_start + old_len if is_end else old_start
    return old_start + old_len + (pos - new_start - new_len)


def remap(match: TopicMatch, originals: tuple[str, ...], maps: list[EntityMap | None]) -> TopicMatch:
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
        evidence.append(evidence_of(e.rule, original[start:end], e.field, start, end))
    return topic_match(match.topic, match.score, evidence)
