"""Dashboard and PromQL helpers shared by the deploy tests (importable: ``from deploy_checks import ...``).

Kept out of conftest.py because test modules cannot import a conftest by name reliably
(the suite's root conftest.py has the same module name).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULES_FILE = PROMETHEUS_DIR / "rules" / "wiremon.yml"
RULES_TESTS = PROMETHEUS_DIR / "tests" / "wiremon_test.yml"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
DASHBOARDS_DIR = DEPLOY / "grafana" / "dashboards"
COMPOSE_FILE = REPO / "docker-compose.yml"


@dataclass(frozen=True)
class PanelQuery:
    """One PromQL query of a dashboard panel (or template variable)."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel!r} / {self.ref_id}: {self.expr}"


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested (collapsed) panels included."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def load_dashboards() -> dict[str, dict[str, Any]]:
    """File name -> parsed JSON model of every dashboard in deploy/grafana/dashboards."""
    paths = sorted(DASHBOARDS_DIR.glob("*.json"))
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in paths}


def panel_queries(dashboards: dict[str, dict[str, Any]]) -> list[PanelQuery]:
    queries = []
    for name, dashboard in dashboards.items():
        for panel in iter_panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                title, ref_id = panel.get("title", "?"), target.get("refId", "?")
                queries.append(PanelQuery(name, title, ref_id, target["expr"]))
    return queries


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPINGS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# An identifier that is not part of a number, a $variable or a longer name, nor a function call.
_IDENTIFIERS = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "atan2",
}  # fmt: skip


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (a lexical approximation, good for our queries)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPINGS.sub(" ", text)
    return {m for m in _IDENTIFIERS.findall(text) if m.lower() not in _KEYWORDS}


# Series Prometheus makes itself, which a query may use besides the monitor's.
PROMETHEUS_SERIES = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})


def catalogue_metric_names() -> set[str]:
    """Every series name ``monitor.metrics.Metrics`` can expose, with counter/histogram suffixes."""
    from monitor.metrics import Metrics

    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def recording_rule_names() -> set[str]:
    doc = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return {rule["record"] for group in doc["groups"] for rule in group["rules"] if "record" in rule}
