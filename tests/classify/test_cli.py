"""CLI helpers: classify JSON Lines, list topics, evaluate."""

from __future__ import annotations

import io
import json
from pathlib import Path

from monitor.classify import Classifier
from monitor.classify.cli import run_classify, run_eval, run_topics


def test_classify_echoes_fields_and_adds_topics(classifier: Classifier) -> None:
    inp = io.StringIO(
        json.dumps({"id": "a", "title": "Ceasefire in Syria", "extra": [1, 2]}) + "\n"
        "\n"
        + json.dumps({"title": "Weather", "summary": None}) + "\n"
    )
    out, err = io.StringIO(), io.StringIO()
    assert run_classify(inp, out, err, classifier) == 0
    first, second = [json.loads(line) for line in out.getvalue().splitlines()]
    assert first["id"] == "a" and first["extra"] == [1, 2]
    assert first["topics"][0]["topic"] == "syria_ceasefire"
    assert 0.0 < first["topics"][0]["score"] <= 1.0
    ev = first["topics"][0]["evidence"][0]
    assert set(ev) == {"rule", "text", "field", "start", "end"}
    assert second["topics"] == []
    assert err.getvalue() == ""


def test_classify_reports_bad_lines_and_continues(classifier: Classifier) -> None:
    inp = io.StringIO('{"title": "ok"}\nnot json\n[1]\n{"title": 3}\n{"summary": "x"}\n{"title": "ok2"}\n')
    out, err = io.StringIO(), io.StringIO()
    assert run_classify(inp, out, err, classifier) == 1
    assert len(out.getvalue().splitlines()) == 2
    messages = err.getvalue().splitlines()
    assert [m.split(":")[0] for m in messages] == ["line 2", "line 3", "line 4", "line 5"]
    assert "not valid JSON" in messages[0]
    assert "missing" in messages[3]


def test_classify_flushes_per_line(classifier: Classifier) -> None:
    class Counting(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            Counting.flushes += 1
            super().flush()

    out = Counting()
    run_classify(io.StringIO('{"title": "a"}\n{"title": "b"}\n'), out, io.StringIO(), classifier)
    assert Counting.flushes >= 2


def test_topics(classifier: Classifier) -> None:
    out = io.StringIO()
    assert run_topics(out, classifier) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].startswith("g20_security") and "ru" in lines[0]
    out = io.StringIO()
    run_topics(out, classifier, json=True)
    assert json.loads(out.getvalue())[1] == {
        "topic": "sanctions", "languages": ["ar", "de", "en", "es", "fr", "ru"]
    }


def test_eval(tmp_path: Path, classifier: Classifier) -> None:
    path = tmp_path / "labelled.jsonl"
    rows = [
        {"id": "p1", "title": "Syria truce holds", "language": "en", "labels": ["syria_ceasefire"]},
        {"id": "n1", "title": "Gaza truce holds", "language": "en", "labels": []},
        {"id": "m1", "title": "Weather is fine", "language": "fr", "labels": ["sanctions"]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert run_eval(path, out, classifier) == 0
    text = out.getvalue()
    assert "macro F1" in text and "sanctions: m1" in text
    out = io.StringIO()
    run_eval(path, out, classifier, json_output=True)
    report = json.loads(out.getvalue())
    assert report["per_topic"]["syria_ceasefire"]["f1"] == 1.0
    assert report["per_topic"]["sanctions"]["recall"] == 0.0
    assert report["false_negatives"] == {"sanctions": ["m1"]}
    assert report["per_language"]["en"]["f1"] == 1.0
