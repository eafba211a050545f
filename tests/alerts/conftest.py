"""Fixtures of the alert tests: a TLS CA for 127.0.0.1, a clean connector environment."""

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alert_support import T0

from ml_connector_dagster import clock
from ml_connector_sandbox.tls import TlsFiles, generate


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A fresh CA and a server certificate for 127.0.0.1 (the sandbox's own helper)."""
    return generate(tmp_path_factory.mktemp("alerts-tls"))


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No connector variable from the real environment; DAGSTER_HOME and HOME under tmp_path."""
    for name in list(os.environ):
        if name.startswith(("RIPPLING_", "DYNAMICS_", "ML_CONNECTOR_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def pinned() -> Iterator[dt.datetime]:
    with clock.pinned(T0) as moment:
        yield moment
