"""The quality targets of issue 3 — macro F1 >= 0.93, every topic >= 0.90, every language
>= 0.85 (per-language F1 is micro over topics, see evaluation.py) — on three sets:

* ``classify_dev.jsonl``: the development set the rules were written against;
* ``classify_holdout.jsonl``: written beside it, consulted once for category-level gaps
  (tests/data/README.md);
* ``classify_blind.jsonl`` and ``classify_blind2.jsonl``: written later by team members
  who had seen neither the rules nor the other sets (tests/data/BLIND*.md); each was
  measured first, then consulted once for category-level gaps — the first figures are
  recorded in those files. They now guard against regressions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.classify import Classifier, evaluate

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("name", "minimum"),
    [
        ("classify_dev.jsonl", 300),
        ("classify_holdout.jsonl", 180),
        ("classify_blind.jsonl", 240),
        ("classify_blind2.jsonl", 240),
    ],
)
def test_set_meets_targets(classifier: Classifier, name: str, minimum: int) -> None:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    assert len(items) >= minimum
    report = evaluate(items, classifier)
    summary = json.dumps(report.as_dict(), ensure_ascii=False)[:3000]
    assert report.macro_f1 >= 0.93, summary
    for topic in ("syria_ceasefire", "sanctions", "g20_security"):
        assert report.per_topic[topic].f1 >= 0.90, (topic, summary)
    assert {"fr", "en", "de", "es", "ru", "ar"} <= set(report.per_language)
    for language, scores in report.per_language.items():
        assert scores.f1 >= 0.85, (language, summary)
