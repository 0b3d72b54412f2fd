"""Compiled rules and exclusions, and when a rule fires.

A rule fires at an anchor hit (a hit of its first concept) when each other
concept has a hit within ``window`` tokens of the anchor (the nearest one is
used) and no exclusion vetoes it: ``item`` (the exclusion's concept occurs
anywhere), ``overlap`` (it covers the anchor), ``window`` (within its window of
the anchor) or ``nearer`` (nearer to the anchor than the rule's farthest partner;
for a one-concept rule, within its window). Pure functions over hits.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.classify.scan import Hit


@dataclass(frozen=True, slots=True)
class CompiledExclusion:
    id: str
    concept: int
    when: str
    window: int


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    concepts: tuple[int, ...]
    window: int | None
    weight: float
    exclusions: tuple[CompiledExclusion, ...]
    mask: int  # bits of ``concepts``: the rule can fire only if the item has them all


@dataclass(frozen=True, slots=True)
class CompiledTopic:
    id: str
    rules: tuple[CompiledRule, ...]
    field_weights: tuple[float, float, float]
    min_score: float
    languages: tuple[str, ...]


def distance(a: Hit, b: Hit) -> int:
    """Tokens between two hits; 0 when they overlap, 1 when adjacent."""
    return max(b[0] - a[1], a[0] - b[1], 0)


def nearest(anchor: Hit, candidates: list[Hit]) -> tuple[int, Hit]:
    """The first of *candidates* nearest to *anchor*, and its :func:`distance`."""
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


def fire_rule(rule: CompiledRule, anchor: Hit, hits: dict[int, list[Hit]]) -> list[Hit] | None:
    """The hits of one firing of *rule* at *anchor* (anchor first), or ``None``."""
    used = [anchor]
    farthest = 0
    window = rule.window
    for concept in rule.concepts[1:]:
        candidates = hits.get(concept)
        if not candidates:
            return None
        dist, best = nearest(anchor, candidates)
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
        near = nearest(anchor, found)[0]
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
