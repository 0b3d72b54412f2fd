"""Log lines: JSON when asked, and secrets never printed."""

from __future__ import annotations

import json
import logging

import pytest

from monitor.logs import redact, setup_logging


def test_json_lines_and_redaction(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json_format=True)
    redact("kafka-password-xyz", "tok")  # too short to be redacted safely: ignored
    log = logging.getLogger("wiremon.test")
    log.warning(
        "feed %s: auth failed with kafka-password-xyz at https://user:pw@host/feed",
        "afp-fr",
        extra={"feed": "afp-fr", "outcome": "http_error"},
    )
    try:
        raise ValueError("boom kafka-password-xyz")
    except ValueError:
        log.exception("crash")
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    first, second = lines
    assert first["level"] == "warning" and first["feed"] == "afp-fr" and first["outcome"] == "http_error"
    assert "kafka-password-xyz" not in first["message"] and "***" in first["message"]
    assert "user:pw@" not in first["message"]
    assert "kafka-password-xyz" not in second["exception"] and "ValueError" in second["exception"]
    setup_logging("INFO")
