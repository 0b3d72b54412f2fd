"""The combined term index of every concept of every loaded topic.

Why one index: the cost of classifying an item must grow with the item's length,
not with the number of topics or terms. All terms of all topics are compiled into
a handful of dicts keyed by normalised word (exact words, prefixes, suffixes,
infixes, phrase heads). A raw token is resolved once — normalised, stemmed and
looked up — and the result (the tuple of *keys* it triggers, or ``None``) is cached
under the raw token itself, so the steady-state cost of a token is one ``dict.get``.

Keys below ``n_concepts`` are concept ids; keys from ``n_concepts`` on are phrase
ids, whose remaining words are checked against the following tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from monitor.classify.definitions import GAP_RE, split_term
from monitor.classify.normalize import TOKEN_RE, normalize_token, token_forms

CACHE_LIMIT = 300_000
"""Resolved raw tokens kept before the cache is emptied (bounds memory on hostile input)."""
KEY_CHARS_LIMIT = 128
"""Longest key (characters, summed over a tuple key's strings) a cache stores: longer
text (hostile or mis-parsed input) is recomputed each time, so that a full cache
holds at most ``CACHE_LIMIT`` short keys."""
COUNT_BITS = 20
"""Low bits of a :attr:`Lexicon.chunk_info` value: the chunk's token count XOR 1, so
that the commonest chunk, one token that triggers nothing, has the value 0."""
COUNT_MASK = (1 << COUNT_BITS) - 1


def _remember(cache: dict[Any, Any], key: object, value: object, chars: int) -> None:
    """Store *value* under *key* unless the key is longer than :data:`KEY_CHARS_LIMIT`;
    empty the cache first when it holds :data:`CACHE_LIMIT` entries."""
    if chars > KEY_CHARS_LIMIT:
        return
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[key] = value


GAP_WORD = ("", True)
"""A phrase word matching any token (a prefix of every form): one token of a ``~N`` gap."""


def expand_gaps(words: list[str]) -> list[list[str]]:
    """The gap-free variants of a term's words: each ``~N`` becomes 0 to N ``~`` words
    (one per arbitrary token), so ``["a", "~2", "b"]`` gives ``a b``, ``a ~ b``, ``a ~ ~ b``."""
    options = [
        [["~"] * k for k in range(int(word[1:]) + 1)] if GAP_RE.fullmatch(word) else [[word]]
        for word in words
    ]
    return [[w for part in choice for w in part] for choice in product(*options)]


@dataclass(frozen=True, slots=True)
class Phrase:
    """A multi-word term: its words, each ``(word, is_prefix)``, and the position of
    the word it is indexed under (the longest one: short words such as ``de``, ``la``
    or ``u`` are frequent, and a phrase indexed under one would be checked at every
    occurrence)."""

    words: tuple[tuple[str, bool], ...]
    anchor: int
    concepts: tuple[int, ...]


class Lexicon:
    """Maps raw tokens to the concepts and phrase heads they trigger.

    Thread-safety: after construction only the resolution caches change; a
    concurrent reader sees either a cached value or recomputes the same one, and
    emptying a full cache only costs recomputation.
    """

    def __init__(self, terms: Iterable[tuple[str, int]], n_concepts: int) -> None:
        """Compile ``(term, concept id)`` pairs; terms must satisfy ``term_problem() is None``."""
        self.n_concepts = n_concepts
        self._exact: dict[str, set[int]] = {}
        self._prefix: dict[str, set[int]] = {}
        self._suffix: dict[str, set[int]] = {}
        self._infix: dict[str, set[int]] = {}
        phrase_ids: dict[tuple[str, ...], int] = {}
        phrase_parts: list[tuple[tuple[tuple[str, bool], ...], int, set[int]]] = []
        for term, concept in [(v, c) for t, c in terms for v in expand_gaps(split_term(t))]:
            # a gap token ("~") normalises to "" and never anchors (the anchor is a longest word)
            words = [(w, "" if w == "~" else normalize_token(w.strip("*"))) for w in term]
            if len(words) == 1:
                self._add(words[0][0], words[0][1], concept)
                continue
            signature = tuple(w for w, _ in words)
            key = phrase_ids.get(tuple(normalize_token(w) for w in signature))
            if key is None:
                key = n_concepts + len(phrase_parts)
                phrase_ids[tuple(normalize_token(w) for w in signature)] = key
                pattern = tuple(GAP_WORD if raw == "~" else (norm, raw.endswith("*")) for raw, norm in words)
                anchor = max(range(len(words)), key=lambda k: len(words[k][1]))
                phrase_parts.append((pattern, anchor, set()))
                # the anchor word is indexed as a prefix if it ends with '*' (never infix)
                self._add(words[anchor][0].lstrip("*"), words[anchor][1], key)
            phrase_parts[key - n_concepts][2].add(concept)
        self.phrases: list[Phrase] = [Phrase(p, a, tuple(sorted(cs))) for p, a, cs in phrase_parts]
        self.key_masks: list[int] = [1 << c for c in range(n_concepts)] + [
            sum(1 << c for c in phrase.concepts) for phrase in self.phrases
        ]
        """Key -> bit mask of the concepts it can produce (one bit for a concept key,
        the phrase's concepts for a phrase key)."""
        self._prefix_lens = sorted({len(k) for k in self._prefix})
        self._suffix_lens = sorted({len(k) for k in self._suffix})
        self._infix_lens = sorted({len(k) for k in self._infix})
        self.cache: dict[str, tuple[int, ...] | None] = {}
        self._forms: dict[str, tuple[str, ...]] = {}
        self.chunk_info: dict[str, int] = {}
        """Whitespace-delimited chunk -> ``mask << COUNT_BITS | (token count ^ 1)``
        (see :meth:`chunk_mask`); the classifier's pre-filter and token positions."""
        self.token_entries: dict[str, tuple[tuple[int, ...], tuple[int, int] | None]] = {}
        """Raw token -> the concepts it triggers by itself and, if it is the indexed
        word of some phrase, how far those phrases reach back and forward."""
        self.contexts: dict[tuple[tuple[str, ...], int], tuple[tuple[int, int, int], ...]] = {}
        """(raw tokens around a phrase-indexing token, its position among them) ->
        ``(concept, first, last)`` of the phrases that match there, relative to it."""
        self.chunk_contexts: dict[tuple[object, ...], tuple[tuple[int, int, int], ...]] = {}
        """The same answers keyed by the whitespace chunks around the token: (chunks,
        index of the token's chunk among them, the token's index in its chunk, whether
        the chunks start the field, whether they end it); see
        :meth:`remember_chunk_context`."""
        self.chunk_tokens: dict[str, tuple[str, ...]] = {}
        """Whitespace-delimited chunk -> its raw tokens (``TOKEN_RE`` matches)."""
        self._phrase_memo: dict[tuple[object, ...], bool] = {}
        self._spans: dict[str, tuple[tuple[int, int], ...]] = {}

    def _add(self, raw: str, norm: str, key: int) -> None:
        if raw.startswith("*") and raw.endswith("*") and len(raw) > 1:
            table = self._infix
        elif raw.endswith("*"):
            table = self._prefix
        elif raw.startswith("*"):
            table = self._suffix
        else:
            table = self._exact
        table.setdefault(norm, set()).add(key)

    def resolve(self, raw: str) -> tuple[int, ...] | None:
        """Return the keys *raw* triggers (sorted), or ``None``; caches the answer."""
        keys: set[int] = set()
        for form in self.forms(raw):
            found = self._exact.get(form)
            if found:
                keys |= found
            n = len(form)
            for k in self._prefix_lens:
                if k > n:
                    break
                found = self._prefix.get(form[:k])
                if found:
                    keys |= found
            for k in self._suffix_lens:
                if k > n:
                    break
                found = self._suffix.get(form[-k:])
                if found:
                    keys |= found
            for k in self._infix_lens:
                if k > n:
                    break
                for i in range(n - k + 1):
                    found = self._infix.get(form[i : i + k])
                    if found:
                        keys |= found
        value = tuple(sorted(keys)) if keys else None
        _remember(self.cache, raw, value, len(raw))
        return value

    def chunk_mask(self, chunk: str) -> int:
        """``mask << COUNT_BITS | (n ^ 1)`` for a whitespace-delimited *chunk* of *n* tokens,
        where *mask* has bit *c* for each concept *c* its tokens may trigger; cached
        in :attr:`chunk_info`. *chunk* must have fewer than ``2 ** COUNT_BITS``
        tokens (the classifier's field caps keep chunks far shorter).

        A phrase counts with all its concepts as soon as its indexed word occurs, so
        the mask over-approximates: an item whose mask lacks a concept of every rule
        cannot fire any rule.
        """
        mask = 0
        tokens = self.tokens_of(chunk)
        for raw in tokens:
            keys = self.cache[raw] if raw in self.cache else self.resolve(raw)
            for key in keys or ():
                mask |= self.key_masks[key]
        if len(tokens) > COUNT_MASK:
            raise ValueError(f"chunk of {len(tokens)} tokens is too long")
        info = mask << COUNT_BITS | (len(tokens) ^ 1)
        _remember(self.chunk_info, chunk, info, len(chunk))
        return info

    def entries(self, raw: str) -> tuple[tuple[int, ...], tuple[int, int] | None]:
        """``(concepts, reach)`` for a raw token (cached): the concepts it triggers
        by itself, and ``(back, forward)``, the tokens its phrases may cover before
        and after it, or ``None`` if it indexes no phrase."""
        found = self.token_entries.get(raw)
        if found is None:
            keys = self.cache[raw] if raw in self.cache else self.resolve(raw)
            n_concepts = self.n_concepts
            concepts = tuple(k for k in keys or () if k < n_concepts)
            phrases = [self.phrases[k - n_concepts] for k in keys or () if k >= n_concepts]
            reach = None
            if phrases:
                back = max(p.anchor for p in phrases)
                reach = (back, max(len(p.words) - 1 - p.anchor for p in phrases))
            found = (concepts, reach)
            _remember(self.token_entries, raw, found, len(raw))
        return found

    def remember_chunk_context(
        self, key: tuple[object, ...], matched: tuple[tuple[int, int, int], ...]
    ) -> None:
        """Cache *matched* under a :attr:`chunk_contexts` key; the caller guarantees
        that the key's chunks hold every token the phrases can reach."""
        chunks = key[0]
        assert isinstance(chunks, tuple)
        _remember(self.chunk_contexts, key, matched, sum(map(len, chunks)))

    def context(self, window: tuple[str, ...], at: int) -> tuple[tuple[int, int, int], ...]:
        """``(concept, first, last)`` for each concept of each phrase indexed under
        ``window[at]`` that matches within *window*, with ``first``/``last`` token
        offsets relative to ``at``; in key order, then concept order (cached).

        *window* must hold the tokens ``entries(window[at])`` says the phrases reach
        (fewer only at the start or end of a field)."""
        memo_key = (window, at)
        found = self.contexts.get(memo_key)
        if found is None:
            out = []
            n_concepts = self.n_concepts
            keys = self.cache[window[at]] if window[at] in self.cache else self.resolve(window[at])
            for key in keys or ():
                if key < n_concepts:
                    continue
                span = self.phrase_span(key, window, at)
                if span is not None:
                    for concept in self.phrases[key - n_concepts].concepts:
                        out.append((concept, span[0] - at, span[1] - at))
            found = tuple(out)
            _remember(self.contexts, memo_key, found, sum(map(len, window)))
        return found

    def tokens_of(self, chunk: str) -> tuple[str, ...]:
        """The raw tokens of a whitespace-delimited chunk (cached)."""
        tokens = self.chunk_tokens.get(chunk)
        if tokens is None:
            tokens = tuple(TOKEN_RE.findall(chunk))
            _remember(self.chunk_tokens, chunk, tokens, len(chunk))
        return tokens

    def token_spans(self, chunk: str) -> tuple[tuple[int, int], ...]:
        """``(start, end)`` of each token inside *chunk* (cached)."""
        spans = self._spans.get(chunk)
        if spans is None:
            spans = tuple(m.span() for m in TOKEN_RE.finditer(chunk))
            _remember(self._spans, chunk, spans, len(chunk))
        return spans

    def forms(self, raw: str) -> tuple[str, ...]:
        """The normalised lookup forms of a raw token (cached)."""
        forms = self._forms.get(raw)
        if forms is None:
            forms = token_forms(raw)
            _remember(self._forms, raw, forms, len(raw))
        return forms

    def phrase_span(self, key: int, tokens: Sequence[str], at: int) -> tuple[int, int] | None:
        """Token range ``(first, last)`` of phrase *key* if it matches with its anchor
        word at ``tokens[at]``, else ``None``.

        The anchor word is already known to match; every other word must equal one
        of its token's forms (or be a prefix of one, for ``word*``; a gap word, the
        empty prefix, matches any token).
        """
        phrase = self.phrases[key - self.n_concepts]
        first = at - phrase.anchor
        last = first + len(phrase.words) - 1
        if first < 0 or last >= len(tokens):
            return None
        # The answer depends only on the phrase and the raw tokens it would cover.
        memo_key = (key, *tokens[first : last + 1])
        known = self._phrase_memo.get(memo_key)
        if known is None:
            known = self._phrase_matches(phrase, tokens, first)
            _remember(self._phrase_memo, memo_key, known, sum(map(len, tokens[first : last + 1])))
        return (first, last) if known else None

    def _phrase_matches(self, phrase: Phrase, tokens: Sequence[str], first: int) -> bool:
        for offset, (word, is_prefix) in enumerate(phrase.words):
            if offset == phrase.anchor:
                continue
            forms = self.forms(tokens[first + offset])
            if word in forms:
                continue
            if is_prefix and any(f.startswith(word) for f in forms):
                continue
            return False
        return True
