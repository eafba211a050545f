"""Prepare a DAGSTER_HOME: the instance file chosen for SQLite or PostgreSQL.

The repository's ``dagster.yaml`` (SQLite) and ``dagster.postgres.yaml`` are the templates;
``ML_CONNECTOR_INSTANCE=postgres`` picks the second. An existing ``dagster.yaml`` in the home is
never overwritten: an operator's own instance settings win, and a note says so.
"""

import shutil
from pathlib import Path

from ml_connector_dagster.config.settings import current_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = {"sqlite": "dagster.yaml", "postgres": "dagster.postgres.yaml"}


class InstanceConfigError(RuntimeError):
    """The requested instance kind has no template."""


def instance_template(kind: str | None = None) -> Path:
    settings = current_settings()
    kind = (kind or settings.instance).lower()
    if kind not in TEMPLATES:
        raise InstanceConfigError(
            f"ML_CONNECTOR_INSTANCE={kind!r} is not one of {sorted(TEMPLATES)}"
        )
    path = settings.dagster_yaml or REPO_ROOT / TEMPLATES[kind]
    if not path.is_file():
        raise InstanceConfigError(f"instance template {path} does not exist")
    return path


def prepare_dagster_home(home: Path, kind: str | None = None) -> Path:
    """Create ``home`` with an instance file if it has none; return its absolute path."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(instance_template(kind), target)
    return home
