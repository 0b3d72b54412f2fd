"""Kafka connection settings: SASL and TLS reach aiokafka; secrets stay secret."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.publish.kafka import client_options

SYSTEM_CA = Path(ssl.get_default_verify_paths().openssl_cafile or "/etc/ssl/certs/ca-certificates.crt")


def first_certificate(tmp_path: Path) -> Path:
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    text = (bundle if bundle.exists() else SYSTEM_CA).read_text()
    pem = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", text, re.S)
    assert pem, "no CA certificate on this machine to test TLS settings with"
    path = tmp_path / "ca.pem"
    path.write_text(pem.group(0))
    return path


def test_sasl_scram_over_tls_with_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text("s3cret-from-file\n")
    config = tmp_path / "c.yml"
    config.write_text(f"""
kafka:
  bootstrap_servers: "broker-1:9093"
  security_protocol: SASL_SSL
  sasl_mechanism: SCRAM-SHA-512
  sasl_username: wiremon
  sasl_password_file: "{secret}"
  ssl_cafile: "{first_certificate(tmp_path)}"
""")
    settings = load_settings(config, environ={})
    opts = client_options(settings.kafka)
    assert opts["security_protocol"] == "SASL_SSL"
    assert opts["sasl_mechanism"] == "SCRAM-SHA-512"
    assert opts["sasl_plain_username"] == "wiremon"
    assert opts["sasl_plain_password"] == "s3cret-from-file"
    assert isinstance(opts["ssl_context"], ssl.SSLContext)
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())


def test_password_from_environment_is_a_secret() -> None:
    settings = load_settings(
        None,
        environ={
            "WIREMON_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "WIREMON_KAFKA__SASL_MECHANISM": "PLAIN",
            "WIREMON_KAFKA__SASL_USERNAME": "wm",
            "WIREMON_KAFKA__SASL_PASSWORD": "1234",
        },
    )
    assert settings.kafka.password() == "1234"  # kept verbatim, not parsed as a number
    assert "1234" not in repr(settings.kafka)
    assert client_options(settings.kafka)["sasl_plain_password"] == "1234"


def test_sasl_without_credentials_is_refused() -> None:
    with pytest.raises(ConfigError, match="sasl_mechanism is required"):
        load_settings(None, environ={"WIREMON_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"})
