"""The quality targets on the two sets the rules were not written from.

``classify_holdout.jsonl`` was written beside the development set and consulted once
for category-level gaps (see tests/data/README.md); ``classify_blind.jsonl`` was written
later by a team member who had seen neither the rules nor the other sets, and is used
for evaluation only (tests/data/BLIND.md). Both must meet the issue's targets: macro
F1 >= 0.93, every topic >= 0.90, every language >= 0.85.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.classify import Classifier, evaluate

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize("name", ["classify_holdout.jsonl", "classify_blind.jsonl"])
def test_held_out_set_meets_targets(classifier: Classifier, name: str) -> None:
    items = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(items) >= 180
    report = evaluate(items, classifier)
    summary = json.dumps(report.as_dict(), ensure_ascii=False)[:3000]
    assert report.macro_f1 >= 0.93, summary
    for topic in ("syria_ceasefire", "sanctions", "g20_security"):
        assert report.per_topic[topic].f1 >= 0.90, (topic, summary)
    assert {"fr", "en", "de", "es", "ru", "ar"} <= set(report.per_language)
    for language, scores in report.per_language.items():
        assert scores.f1 >= 0.85, (language, summary)
