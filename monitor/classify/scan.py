"""The item's whitespace chunks and the scan for concept hits.

An item is one token stream: title, summary and body (:data:`FIELD_NAMES`), with
:data:`FIELD_GAP` tokens between fields. Each field is kept as its
whitespace-delimited chunks (``str.split``) with their cached pre-filter values
(:class:`~monitor.classify.lexicon.Lexicon`); :func:`scan` visits only the chunks
with a non-zero value and returns every occurrence of a *live* concept as a
:data:`Hit` with global and per-field token positions equal to those the token
regex gives on the whole field (``tests/classify/test_fast_paths.py``). It also
records, in the layout, where the chunks that are not one token lie, which the
evidence uses to find character offsets. Pure apart from filling the lexicon's
caches; emptying a cache at any moment changes no result.
"""

from __future__ import annotations

from itertools import compress

from monitor.classify.dateline import dateline_tokens
from monitor.classify.lexicon import COUNT_BITS, COUNT_MASK, Lexicon
from monitor.models import FieldName

FIELD_NAMES: tuple[FieldName, FieldName, FieldName] = ("title", "summary", "body")
FIELD_GAP = 5
"""Token distance added between fields: a title and its summary are near, not adjacent."""
# Per field (title, summary, body): its whitespace-delimited chunks and, once
# scanned, for the chunks that are not exactly one token: their index, first token
# and end token (exclusive); every other chunk is one token.
Special = tuple[list[int], list[int], list[int]]
Layout = tuple[tuple[list[str], list[str], list[str]], list[list[int]], list[Special]]
UNSEEN = 1 << (COUNT_BITS - 1)
"""Stands for a chunk not in the cache while the pre-filter ORs chunk values: a bit of
the token-count part that no real chunk sets (a field cap of 50 000 characters
allows at most 25 000 tokens in a chunk)."""
# A hit: (global start, global end inclusive, field index, local start, local end inclusive).
Hit = tuple[int, int, int, int, int]


def scan(
    lexicon: Lexicon, skip_dateline: frozenset[int], texts: tuple[str, ...], layout: Layout, live: int
) -> dict[int, list[Hit]]:
    """Find every occurrence of a *live* concept in the fields, keyed by concept id.

    Most chunks are one token that triggers nothing (cached value 0); only the
    others, found in C, are looked at in Python: they give the token positions
    (with their token counts) and, if their mask has a live concept, the hits.
    A phrase is checked once per distinct run of raw tokens around its indexed
    word (:meth:`Lexicon.context`). No regex runs over the whole field.
    """
    entries_get = lexicon.token_entries.get
    contexts_get = lexicon.contexts.get
    chunk_contexts_get = lexicon.chunk_contexts.get
    tokens_of = lexicon.tokens_of
    tokens_get = lexicon.chunk_tokens.get
    hits: dict[int, list[Hit]] = {}
    base = 0
    layout[2][:] = [([], [], []), ([], [], []), ([], [], [])]
    for field, chunks in enumerate(layout[0]):
        if not chunks:
            continue
        infos = layout[1][field]
        # The chunks that are not one token, with their first token and end
        # (exclusive); kept for the evidence.
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
                            dateline = dateline_tokens(texts[field])
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
                    window, at, first_chunk, last_chunk = token_window_chunks(
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
                            dateline = dateline_tokens(texts[field])
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


def add_unseen(chunks: list[str], infos: list[int], lexicon: Lexicon) -> int:
    """Replace each :data:`UNSEEN` in *infos* by its chunk's computed value; return
    those values OR-ed together."""
    added = 0
    i = -1
    index = infos.index
    try:
        while True:
            i = index(UNSEEN, i + 1)
            infos[i] = info = lexicon.chunk_mask(chunks[i])
            added |= info
    except ValueError:
        return added


def token_window(
    chunks: list[str],
    j: int,
    chunk_tokens: tuple[str, ...],
    offset: int,
    reach: tuple[int, int],
    lexicon: Lexicon,
) -> tuple[tuple[str, ...], int]:
    """The raw tokens from ``reach[0]`` before to ``reach[1]`` after token *offset*
    of chunk *j* (fewer at the field's ends), and the position of that token in them."""
    return token_window_chunks(chunks, j, chunk_tokens, offset, reach, lexicon)[:2]


def token_window_chunks(
    chunks: list[str],
    j: int,
    chunk_tokens: tuple[str, ...],
    offset: int,
    reach: tuple[int, int],
    lexicon: Lexicon,
) -> tuple[tuple[str, ...], int, int, int]:
    """:func:`token_window`, plus the first and last chunk whose tokens were looked at."""
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
