"""The classifier's command-line helpers; ``monitor/cli.py`` wires them to ``wiremon``.

Each helper takes its streams and a :class:`Classifier` and returns the exit code,
so it runs in a test without a subprocess:

- :func:`run_classify` — ``wiremon classify``: JSON Lines in, JSON Lines out.
- :func:`run_topics` — ``wiremon topics [--json]``: loaded topics and their languages.
- :func:`run_eval` — ``wiremon eval FILE [--json]``: precision, recall and F1 of the
  classifier on a labelled JSON Lines file (see :mod:`monitor.classify.evaluation`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from monitor.classify.engine import Classifier
from monitor.classify.evaluation import EvalReport, evaluate

__all__ = ["EvalReport", "evaluate", "run_classify", "run_eval", "run_topics"]


def _field(obj: dict[str, Any], key: str) -> str | None:
    """The string value of an optional field; ``None`` if it is present but not a string."""
    value = obj.get(key)
    if value is None:
        return ""
    return value if isinstance(value, str) else None


def run_classify(inp: TextIO, out: TextIO, err: TextIO, classifier: Classifier) -> int:
    """Classify JSON Lines from *inp*, one output line per valid input line.

    Each input line is an object with a string ``title`` and optional string
    ``summary``, ``body`` and ``language``; every other field is echoed back. The
    output object is the input plus ``topics``: ``[{"topic", "score", "evidence"}]``,
    best first. Output is flushed after each line, so the command can sit in a pipe.

    A line that is not JSON, not an object, or has a non-string ``title`` (or
    ``summary``/``body``/``language``) is reported on *err* as ``line N: problem``
    and skipped; blank lines are skipped silently. Returns 0 if every non-blank
    line was classified, else 1.
    """
    status = 0
    for number, line in enumerate(inp, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            err.write(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno}); skipped\n")
            err.flush()
            status = 1
            continue
        problem = None
        if not isinstance(obj, dict):
            problem = f"expected a JSON object, got {type(obj).__name__}"
        elif not isinstance(obj.get("title"), str):
            problem = "'title' must be a string" + ("" if "title" in obj else " (missing)")
        else:
            for key in ("summary", "body", "language"):
                if _field(obj, key) is None:
                    problem = f"{key!r} must be a string"
                    break
        if problem is not None:
            err.write(f"line {number}: {problem}; skipped\n")
            err.flush()
            status = 1
            continue
        assert isinstance(obj, dict)
        matches = classifier.classify(
            obj["title"], _field(obj, "summary") or "", _field(obj, "body") or "", obj.get("language")
        )
        obj["topics"] = [m.model_dump(mode="json") for m in matches]
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        out.flush()
    return status


def run_topics(out: TextIO, classifier: Classifier, *, json: bool = False) -> int:
    """List loaded topics: ``topic_id  languages: de, en, ...`` per line, or with
    ``json=True`` one JSON array of ``{"topic", "languages"}``. Returns 0."""
    import json as json_module

    rows = [{"topic": t, "languages": classifier.languages(t)} for t in classifier.topics]
    if json:
        out.write(json_module.dumps(rows, ensure_ascii=False) + "\n")
    else:
        width = max((len(t) for t in classifier.topics), default=0)
        for row in rows:
            out.write(f"{row['topic']:<{width}}  languages: {', '.join(row['languages'])}\n")
    out.flush()
    return 0


def _read_items(path: Path) -> list[dict[str, Any]]:
    items = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                if isinstance(obj, dict):
                    items.append(obj)
    return items


def format_report(report: EvalReport) -> str:
    """Human-readable rendering of an :class:`EvalReport`."""
    lines = [f"items: {report.items}", "", f"{'':<18}{'P':>8}{'R':>8}{'F1':>8}{'tp':>6}{'fp':>6}{'fn':>6}"]

    def row(name: str, s: Any) -> str:
        return f"{name:<18}{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}{s.tp:>6}{s.fp:>6}{s.fn:>6}"

    lines.append("per topic:")
    lines += [row("  " + k, v) for k, v in sorted(report.per_topic.items())]
    lines.append("per language (micro over topics):")
    lines += [row("  " + k, v) for k, v in sorted(report.per_language.items())]
    lines.append(f"macro F1: {report.macro_f1:.4f}")
    tables = (("false positives", report.false_positives), ("false negatives", report.false_negatives))
    for title, table in tables:
        lines.append(f"{title}:")
        if not any(table.values()):
            lines.append("  none")
        for topic, ids in sorted(table.items()):
            lines.append(f"  {topic}: {', '.join(ids)}")
    return "\n".join(lines) + "\n"


def run_eval(path: Path, out: TextIO, classifier: Classifier, *, json_output: bool = False) -> int:
    """Print precision, recall and F1 per topic, per language and macro for the
    labelled JSON Lines at *path*, then the false positives and negatives by id.
    Returns 0: it reports; thresholds belong to the tests."""
    report = evaluate(_read_items(path), classifier)
    if json_output:
        out.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(format_report(report))
    out.flush()
    return 0
