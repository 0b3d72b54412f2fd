"""Multilingual, explainable topic classification of wire items (pure logic).

Topics are data: one YAML definition per topic (``topics/*.yml`` in this package,
plus user directories). See ``docs/classifier.md``.

Public API::

    load_classifier(extra_dirs=(), disabled=()) -> Classifier
    Classifier.classify(title, summary="", body="", language=None) -> list[TopicMatch]
    ReloadableClassifier(extra_dirs, disabled).reload() -> list[str]
    evaluate(items, classifier) -> EvalReport
"""

from monitor.classify.engine import Classifier
from monitor.classify.evaluation import EvalReport, Scores, evaluate
from monitor.classify.registry import ReloadableClassifier, load_classifier, load_definitions

__all__ = [
    "Classifier",
    "EvalReport",
    "ReloadableClassifier",
    "Scores",
    "evaluate",
    "load_classifier",
    "load_definitions",
]
