"""Shared fixtures: one classifier built from the package topics per test session."""

from __future__ import annotations

import pytest

from monitor.classify import Classifier, load_classifier


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return load_classifier()
