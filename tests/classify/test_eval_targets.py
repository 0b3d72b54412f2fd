"""The team's targets on the development set: macro F1 >= 0.93, every topic >= 0.90,
every language >= 0.85 (per-language F1 is micro over topics, see evaluation.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.classify import Classifier, evaluate

DEV = Path(__file__).resolve().parents[1] / "data" / "classify_dev.jsonl"


@pytest.mark.skipif(not DEV.exists(), reason="tests/data/classify_dev.jsonl not written yet")
def test_dev_set_meets_targets(classifier: Classifier) -> None:
    items = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(items) >= 300
    report = evaluate(items, classifier)
    summary = json.dumps(report.as_dict(), ensure_ascii=False)[:3000]
    assert report.macro_f1 >= 0.93, summary
    for topic in ("syria_ceasefire", "sanctions", "g20_security"):
        assert report.per_topic[topic].f1 >= 0.90, (topic, summary)
    assert {"fr", "en", "de", "es", "ru", "ar"} <= set(report.per_language)
    for language, scores in report.per_language.items():
        assert scores.f1 >= 0.85, (language, summary)
