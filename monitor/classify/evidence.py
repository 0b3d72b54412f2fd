"""Evidence: which rule matched which text, where, for the strongest firings.

Guarantee: every entry's ``start``/``end`` are character offsets into the field
text it was given, with ``text == field[start:end]`` covering the hit's tokens
exactly as the token regex finds them; at most :data:`MAX_EVIDENCE` entries, each
distinct (rule, hit) once, in firing order. Offsets are computed from the chunk
layout of :mod:`monitor.classify.scan`, only for the evidence returned.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from monitor.classify.lexicon import Lexicon
from monitor.classify.results import evidence_of
from monitor.classify.scan import FIELD_NAMES, Hit, Layout
from monitor.models import Evidence

MAX_EVIDENCE = 12


def build_evidence(
    firings: list[tuple[float, str, list[Hit]]],
    texts: tuple[str, ...],
    layout: Layout,
    lexicon: Lexicon,
    locators: dict[int, Locator],
) -> list[Evidence]:
    """Evidence for the strongest firings, with spans into the original field text:
    each distinct (rule, hit) in firing order, at most :data:`MAX_EVIDENCE`."""
    out: list[Evidence] = []
    seen: set[tuple[str, int, int]] = set()
    new_evidence = evidence_of
    for _, rule_id, used in firings:
        for hit in used:
            key = (rule_id, hit[0], hit[1])
            if key in seen:
                continue
            seen.add(key)
            field = hit[2]
            locator = locators.get(field)
            if locator is None:
                locator = locators[field] = Locator(texts[field], layout, field, lexicon)
            start, end = locator.locate(hit[3], hit[4])
            out.append(new_evidence(rule_id, texts[field][start:end], FIELD_NAMES[field], start, end))
            if len(out) == MAX_EVIDENCE:
                return out
    return out


class Locator:
    """Character offsets of a field's tokens, from its whitespace chunks.

    Chunk starts are summed in C when the chunks are separated by single
    whitespace characters (the usual case); otherwise they are found one by one
    with ``str.find``, which is exact because a chunk starts with a non-space and
    only whitespace separates chunks.
    """

    __slots__ = ("_chunks", "_lengths", "_lexicon", "_special", "_starts", "_text")

    def __init__(self, text: str, layout: Layout, field: int, lexicon: Lexicon) -> None:
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
