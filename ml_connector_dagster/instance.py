"""Prepare a DAGSTER_HOME: the instance file chosen for SQLite or PostgreSQL.

The repository's ``dagster.yaml`` (SQLite) and ``dagster.postgres.yaml`` are the templates;
``ML_CONNECTOR_INSTANCE=postgres`` picks the second. An existing ``dagster.yaml`` in the home is
never overwritten: an operator's own instance settings win, and a note says so.

Preparing a home also sets this code location's pool limits on its instance explicitly
(``defs/pools.py`` says why: a pool left to ``default_limit`` can crash runs on PostgreSQL), so
``ml-connector home`` (which ``make demo`` runs before ``dagster dev``) and every command that
opens the instance start with them set.
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
    """Create ``home`` with an instance file if it has none, set the pool limits on its
    instance; return its absolute path."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(instance_template(kind), target)
    set_pool_limits(home)
    return home


def set_pool_limits(home: Path) -> None:
    """This code location's pool limits, set on the instance of ``home`` (idempotent)."""
    import dagster as dg

    from ml_connector_dagster.defs.pools import apply_pool_limits

    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            apply_pool_limits(instance)
    except Exception as exc:
        raise InstanceConfigError(
            f"could not set the pool limits on the instance of {home}: {type(exc).__name__}:"
            f" {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc
