"""Configuration errors name the key, the value and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load_settings
from monitor.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config_from_the_issue(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
kafka:
  bootstrap_servers: "127.0.0.1:9092"
state_dir: "/var/lib/wiremon"
feeds:
  - url: "http://127.0.0.1:8080/afp-fr.xml"
    agency: "AFP"
    interval: 1
""",
    )
    s = load_settings(path, environ={})
    assert s.feeds[0].agency == "AFP" and s.interval_for(s.feeds[0]) == 1
    assert s.feeds[0].feed_id.startswith("f-")
    assert s.kafka.idempotence is True and s.kafka.acks == "all"


def test_every_problem_is_listed_with_key_and_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
kafka:
  bootstrap_servers: x:1
  partitons: 3
feeds:
  - url: "ftp://example.org/x"
    agency: AFP
    interval: -5
""",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    problems = "\n".join(info.value.problems)
    assert "kafka.partitons: unknown key" in problems
    assert (
        "feeds[0].url: must be an http:// or https:// URL" in problems and "ftp://example.org/x" in problems
    )
    assert "feeds[0].interval: Input should be greater than 0 (got -5)" in problems


def test_duplicate_feed_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
feeds:
  - {id: a, url: "http://x/1", agency: A}
  - {id: a, url: "http://x/2", agency: B}
""",
    )
    with pytest.raises(ConfigError, match=r"feeds\[1\]\.id: 'a' is already used by feeds\[0\]"):
        load_settings(path, environ={})


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "kafka:\n  bootstrap_servers: a:1\n")
    s = load_settings(
        path,
        environ={
            "WIREMON_KAFKA__BOOTSTRAP_SERVERS": "b:2",
            "WIREMON_KAFKA__PARTITIONS": "6",
            "WIREMON_FETCH__JITTER": "0.2",
            "OTHER": "x",
        },
    )
    assert s.kafka.bootstrap_servers == "b:2" and s.kafka.partitions == 6 and s.fetch.jitter == 0.2


def test_unknown_environment_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"kafka\.bootstrap: unknown key"):
        load_settings(None, environ={"WIREMON_KAFKA__BOOTSTRAP": "x"})


def test_sasl_requires_credentials_and_password_is_not_echoed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
kafka:
  security_protocol: SASL_SSL
  sasl_mechanism: SCRAM-SHA-512
  sasl_username: wiremon
  sasl_password: s3cret-value
  ssl_cafile: /nonexistent/ca.pem
""",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert "ssl_cafile" in str(info.value)
    assert "s3cret-value" not in str(info.value)


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "feeds:\n  - {url: 'http://127.0.0.1/a.xml', agency: AFP}\n")
    assert main(["check-config", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text("feeds:\n  - {url: 'nope', agency: AFP, colour: red}\n")
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "INVALID" in err and "feeds[0].url" in err and "feeds[0].colour: unknown key" in err
    assert main(["check-config", str(tmp_path / "missing.yml")]) == 1
