"""Precision, recall and F1 of a classifier on labelled items (pure).

Conventions (stated because they change the numbers):

- An item is a mapping with ``id``, ``title``, optional ``summary``, ``body``,
  ``language`` and ``labels`` (list of topic ids); a topic is *predicted* when
  :meth:`Classifier.classify` returns it, whatever its score.
- Per topic: counts over all items. Precision with no prediction is 1.0, recall
  with no label is 1.0, F1 with ``precision + recall == 0`` is 0.0.
- Macro F1: mean of the per-topic F1 over the topics the classifier loaded plus
  any topic that appears in labels.
- Per language: *micro* F1 over all (item, topic) decisions of the items whose
  ``language`` is that code (``"?"`` when absent). Micro, because a language has too
  few positives per topic for per-topic figures to be stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.classify.engine import Classifier


@dataclass
class Scores:
    """Counts and the derived precision, recall and F1."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass
class EvalReport:
    """What :func:`evaluate` measured."""

    items: int = 0
    per_topic: dict[str, Scores] = field(default_factory=dict)
    per_language: dict[str, Scores] = field(default_factory=dict)
    false_positives: dict[str, list[str]] = field(default_factory=dict)
    false_negatives: dict[str, list[str]] = field(default_factory=dict)

    @property
    def macro_f1(self) -> float:
        """Mean per-topic F1 (0.0 when there are no topics)."""
        return sum(s.f1 for s in self.per_topic.values()) / len(self.per_topic) if self.per_topic else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "macro_f1": round(self.macro_f1, 4),
            "per_topic": {k: v.as_dict() for k, v in sorted(self.per_topic.items())},
            "per_language": {k: v.as_dict() for k, v in sorted(self.per_language.items())},
            "false_positives": dict(sorted(self.false_positives.items())),
            "false_negatives": dict(sorted(self.false_negatives.items())),
        }


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    return value if isinstance(value, str) else ""


def evaluate(items: Iterable[Mapping[str, Any]], classifier: Classifier) -> EvalReport:
    """Classify every item and compare with its ``labels``."""
    report = EvalReport()
    topics = list(classifier.topics)
    for topic in topics:
        report.per_topic[topic] = Scores()
    for n, item in enumerate(items):
        report.items += 1
        item_id = str(item.get("id", f"#{n + 1}"))
        labels = {str(x) for x in item.get("labels") or []}
        language = str(item.get("language") or "?")
        predicted = {
            m.topic
            for m in classifier.classify(
                _text(item, "title"), _text(item, "summary"), _text(item, "body"), item.get("language")
            )
        }
        lang_scores = report.per_language.setdefault(language, Scores())
        for topic in sorted(labels | predicted | set(topics)):
            scores = report.per_topic.setdefault(topic, Scores())
            gold, pred = topic in labels, topic in predicted
            if gold and pred:
                scores.tp += 1
                lang_scores.tp += 1
            elif pred:
                scores.fp += 1
                lang_scores.fp += 1
                report.false_positives.setdefault(topic, []).append(item_id)
            elif gold:
                scores.fn += 1
                lang_scores.fn += 1
                report.false_negatives.setdefault(topic, []).append(item_id)
    return report
