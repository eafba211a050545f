"""Resolve a connection's credentials from the environment and the encrypted store.

Both are supported sources: containers and CI inject environment variables, an operator's
host keeps an encrypted store written by ``ml-connector credentials set``. Per field the
environment wins, so a deployment can override one stored value without rewriting the
store. One exception: after the connector has written a rotated Rippling refresh token to
the store, the stored one wins, because Rippling invalidated the token the environment still
holds.

Missing settings are reported all at once by environment variable name; values never appear
in errors (a value in an error message ends up in Dagster's event log).
"""

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr, ValidationError

from ml_connector_dagster.config.settings import ENVIRONMENT
from ml_connector_dagster.credentials import envvars
from ml_connector_dagster.credentials.errors import MissingCredentialsError
from ml_connector_dagster.credentials.locate import existing_store
from ml_connector_dagster.credentials.models import (
    AlertCredentials,
    ConnectionCredentials,
    CredentialsError,
    DynamicsCredentials,
    RipplingCredentials,
)
from ml_connector_dagster.credentials.store import (
    CredentialStore,
    Side,
    StoredCredentials,
    store_path,
)

Source = Literal["env", "store", "default", "unset", "missing"]
MODELS: dict[str, type[BaseModel]] = {
    "rippling": RipplingCredentials,
    "dynamics": DynamicsCredentials,
    "alerts": AlertCredentials,
}
RIPPLING_OAUTH = ("oauth_client_id", "oauth_client_secret", "oauth_refresh_token")


def is_secret(side: Side, name: str) -> bool:
    """Whether the model declares ``name`` a secret (derived, so new secrets are covered)."""
    annotation = MODELS[side].model_fields[name].annotation
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


@dataclass(frozen=True)
class Setting:
    """One field's resolved value and where it came from (``note`` explains precedence)."""

    name: str
    env_var: str
    source: Source
    secret: bool
    value: Any = field(default=None, repr=False)
    note: str = ""


def _from_env(side: Side, name: str, env: Mapping[str, str]) -> Any:
    var = envvars.SIDES[side][name]
    raw = envvars.env_value(env, var)
    if raw is None:
        return None
    if name == "allow_any_host":
        return envvars.parse_bool(var, raw)
    return SecretStr(raw) if is_secret(side, name) else raw


def side_settings(
    side: Side, env: Mapping[str, str], stored: StoredCredentials
) -> dict[str, Setting]:
    """Every field of ``side`` with its winning source; the one place precedence is decided."""
    in_store = stored.side(side)
    rotated_at = (
        stored.rippling.refresh_token_rotated_at
        if side == "rippling" and stored.rippling is not None
        else None
    )
    settings: dict[str, Setting] = {}
    for name, var in envvars.SIDES[side].items():
        from_env, from_store = _from_env(side, name, env), in_store.get(name)
        note = ""
        if name == "oauth_refresh_token" and rotated_at is not None and from_store is not None:
            source, value = "store", from_store
            note = f"rotated {rotated_at.isoformat(timespec='seconds')}"
            if from_env is not None:
                note += f"; {var} is superseded"
        elif from_env is not None:
            source, value = "env", from_env
            note = "overrides the store" if from_store is not None else ""
        elif from_store is not None:
            source, value = "store", from_store
        elif MODELS[side].model_fields[name].is_required():
            source, value = "missing", None
        else:
            value = MODELS[side].model_fields[name].get_default()
            source = "unset" if value is None else "default"
        settings[name] = Setting(name, var, source, is_secret(side, name), value, note)
    return settings


def ca_bundle_setting(env: Mapping[str, str], stored: StoredCredentials) -> Setting:
    from_env = envvars.env_value(env, envvars.CA_BUNDLE)
    if from_env is not None:
        note = "overrides the store" if stored.ca_bundle is not None else ""
        return Setting("ca_bundle", envvars.CA_BUNDLE, "env", False, from_env, note)
    if stored.ca_bundle is not None:
        return Setting("ca_bundle", envvars.CA_BUNDLE, "store", False, stored.ca_bundle)
    return Setting("ca_bundle", envvars.CA_BUNDLE, "unset", False, None)


def missing_names(side: Side, settings: Mapping[str, Setting]) -> list[str]:
    """Environment variable names of required settings that no source provides."""
    if side == "alerts":
        return []  # each alert secret is optional: without it, its channel is off
    if side == "dynamics":
        return [s.env_var for s in settings.values() if s.source == "missing"]
    if settings["api_token"].value is not None:
        return []
    oauth = [settings[name] for name in RIPPLING_OAUTH]
    if any(s.value is not None for s in oauth):
        return [s.env_var for s in oauth if s.value is None]
    return [
        f"{envvars.RIPPLING['api_token']} (or "
        + " + ".join(envvars.RIPPLING[name] for name in RIPPLING_OAUTH)
        + ")"
    ]


def build(model: type[BaseModel], values: Mapping[str, Any]) -> Any:
    """``model(**values)``, its validation errors turned into one ``CredentialsError``.

    The models raise ``CredentialsError`` with a precise message inside validators, which
    pydantic wraps; unwrap it. Inputs are left out of every message.
    """
    try:
        return model(**values)
    except ValidationError as exc:
        messages = []
        for error in exc.errors(include_input=False, include_url=False):
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, CredentialsError):
                messages.append(str(cause))
            else:
                where = ".".join(str(part) for part in error["loc"])
                messages.append(f"{model.__name__}.{where}: {error['msg']}")
        raise CredentialsError("; ".join(messages)) from None


def _side_model(side: Side, settings: Mapping[str, Setting]) -> Any:
    values = {s.name: s.value for s in settings.values() if s.source in ("env", "store")}
    return build(MODELS[side], values)


def _load(env: Mapping[str, str], store: CredentialStore | None) -> tuple[StoredCredentials, Path]:
    if store is None:
        store = existing_store(env)
    if store is None:
        return StoredCredentials(), store_path(env)
    return store.load(), store.path


def _hint(path: Path, sides: list[str]) -> str:
    where = f"store {path}" + ("" if path.is_file() else " (not found)")
    command = "|".join(sides)
    return f"set them in the environment or with `ml-connector credentials set {command}` ({where})"


def _resolve_side(side: Side, env: Mapping[str, str], store: CredentialStore | None) -> Any:
    stored, path = _load(env, store)
    settings = side_settings(side, env, stored)
    missing = missing_names(side, settings)
    if missing:
        raise MissingCredentialsError(missing, _hint(path, [side]))
    return _side_model(side, settings)


def resolve_rippling(
    env: Mapping[str, str] = ENVIRONMENT, store: CredentialStore | None = None
) -> RipplingCredentials:
    """The Rippling side alone. ``store=None`` opens the configured store if it exists."""
    return _resolve_side("rippling", env, store)


def resolve_dynamics(
    env: Mapping[str, str] = ENVIRONMENT, store: CredentialStore | None = None
) -> DynamicsCredentials:
    """The Dynamics side alone. ``store=None`` opens the configured store if it exists."""
    return _resolve_side("dynamics", env, store)


def resolve_alerts(
    env: Mapping[str, str] = ENVIRONMENT, store: CredentialStore | None = None
) -> AlertCredentials:
    """The alert channels' secrets (each may be absent). ``store=None`` opens the configured
    store if it exists."""
    return _resolve_side("alerts", env, store)


def resolve_ca_bundle(
    env: Mapping[str, str] = ENVIRONMENT, store: CredentialStore | None = None
) -> str | None:
    """The extra CA file both clients trust, if one is configured."""
    stored, _ = _load(env, store)
    return ca_bundle_setting(env, stored).value


def resolve_credentials(
    env: Mapping[str, str] = ENVIRONMENT, store: CredentialStore | None = None
) -> ConnectionCredentials:
    """Both sides and the CA bundle; every missing setting of both sides in one error.

    ``store=None`` opens the configured store (``ML_CONNECTOR_CREDENTIALS_FILE`` or the
    instance directory) when its file exists; without a file only the environment is used.
    """
    stored, path = _load(env, store)
    rippling = side_settings("rippling", env, stored)
    dynamics = side_settings("dynamics", env, stored)
    missing = missing_names("rippling", rippling) + missing_names("dynamics", dynamics)
    if missing:
        raise MissingCredentialsError(missing, _hint(path, ["rippling", "dynamics"]))
    return ConnectionCredentials(
        rippling=_side_model("rippling", rippling),
        dynamics=_side_model("dynamics", dynamics),
        ca_bundle=ca_bundle_setting(env, stored).value,
    )
