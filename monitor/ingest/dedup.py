"""Decide, per normalised item, whether it is new, an update, or a duplicate. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..models import WireItem
from ..store import SeenRecord

Status = Literal["new", "updated", "duplicate"]


@dataclass(frozen=True, slots=True)
class Decision:
    item: WireItem
    status: Status
    revision: int


def decide(items: Sequence[WireItem], seen: Mapping[str, SeenRecord]) -> list[Decision]:
    """New when the id was never seen; updated when its content hash changed (revision
    + 1); duplicate otherwise."""
    out: list[Decision] = []
    for item in items:
        record = seen.get(item.event_id)
        if record is None:
            out.append(Decision(item, "new", 1))
        elif record.content_hash != item.content_hash:
            out.append(Decision(item, "updated", record.revision + 1))
        else:
            out.append(Decision(item, "duplicate", record.revision))
    return out
