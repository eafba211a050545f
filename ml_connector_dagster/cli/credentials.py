"""``ml-connector credentials``: store, inspect, re-key and delete connection credentials.

Secrets given as options end up in shell history and process listings; leave them out and
they are prompted for with hidden input, or use ``--from-env``. Nothing here prints a secret,
except ``rotate-key --print-new-key``, which exists to hand a new key to a secret manager.
"""

import functools
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ml_connector_dagster.config.settings import ENVIRONMENT, current_settings
from ml_connector_dagster.credentials import envvars
from ml_connector_dagster.credentials.keys import KeyRing
from ml_connector_dagster.credentials.locate import (
    describe_key_source,
    existing_store,
    open_or_create_store,
    open_store,
)
from ml_connector_dagster.credentials.models import CredentialsError
from ml_connector_dagster.credentials.resolve import (
    MODELS,
    RIPPLING_OAUTH,
    Setting,
    build,
    ca_bundle_setting,
    is_secret,
    missing_names,
    side_settings,
)
from ml_connector_dagster.credentials.store import (
    Side,
    StoredCredentials,
    remove_store_file,
    store_path,
)
from ml_connector_dagster.storage.sealed import legacy_files, reencrypt_tree, values_root

MASK = "••••••••"
# Shorter secrets show nothing at all: four characters of an 8-character secret is half of it.
MASK_MIN_LENGTH = 12
SIDE_TITLES = {"rippling": "Rippling", "dynamics": "Dynamics 365 F&O", "alerts": "Alerts"}


def mask(secret: str) -> str:
    """``••••••••abcd``: the last four characters, and only for secrets of 12 or more."""
    return MASK + (secret[-4:] if len(secret) >= MASK_MIN_LENGTH else "")


def _stdout() -> Console:
    # Made per call so the console follows the current sys.stdout (CliRunner swaps it).
    return Console(highlight=False)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _reports_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn credential and file errors into a one-line message and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except CredentialsError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename}") from None

    return wrapper


@click.group()
def credentials() -> None:
    """Connection credentials: an encrypted store, read together with the environment.

    \b
    Store: ML_CONNECTOR_CREDENTIALS_FILE, default $DAGSTER_HOME/ml-connector/credentials.enc
    Key:   ML_CONNECTOR_CREDENTIALS_KEY (comma-separated), else ML_CONNECTOR_CREDENTIALS_KEY_FILE
           (default ~/.config/ml-connector/credentials.key)
    Per setting the environment wins over the store (see `credentials show`).
    """


# --- set ---------------------------------------------------------------------------------------
@credentials.group("set")
def set_() -> None:
    """Store one side's credentials, merged into what is already stored."""


def _common_set_options(func: Any) -> Any:
    func = click.option(
        "--ca-bundle",
        type=click.Path(dir_okay=False, exists=True, resolve_path=True),
        help="Extra CA file trusted by both clients (stored for both sides).",
    )(func)
    return click.option(
        "--from-env",
        is_flag=True,
        help="Take the values from the documented environment variables; options override.",
    )(func)


def _secret_option(name: str, what: str) -> Callable[[Any], Any]:
    return click.option(name, help=f"{what}; prompted with hidden input when needed and omitted.")


def _prompt(side: Side, name: str) -> Any:
    label = envvars.SIDES[side][name]
    return click.prompt(label, hide_input=is_secret(side, name), type=str)


def _prompt_missing(side: Side, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Ask for what the side still lacks: hidden for secrets, visible for identifiers.

    For Rippling, a partial OAuth set asks for the rest of it, otherwise for an API token.
    Alerts need neither secret; with none given or stored, both are asked for (hidden), and an
    empty answer leaves that channel's secret unset.
    """
    if side == "alerts":
        if any(fields.get(name) is not None for name in envvars.ALERTS):
            return {}
        answers = {
            name: click.prompt(var, hide_input=True, type=str, default="", show_default=False)
            for name, var in envvars.ALERTS.items()
        }
        return {name: SecretStr(value) for name, value in answers.items() if value}
    if side == "dynamics":
        needed = ("environment_url", "tenant_id", "client_id", "client_secret")
        return {name: _prompt(side, name) for name in needed if fields.get(name) is None}
    if fields.get("api_token") is not None:
        return {}
    if any(fields.get(name) is not None for name in RIPPLING_OAUTH):
        return {name: _prompt(side, name) for name in RIPPLING_OAUTH if fields.get(name) is None}
    return {"api_token": _prompt(side, "api_token")}


def _env_changes(side: Side, env: Mapping[str, str]) -> dict[str, Any]:
    stored = StoredCredentials()
    return {s.name: s.value for s in side_settings(side, env, stored).values() if s.source == "env"}


def _set_side(side: Side, given: dict[str, Any], from_env: bool, ca_bundle: str | None) -> None:
    env = ENVIRONMENT
    err = _stderr()
    changes = _env_changes(side, env) if from_env else {}
    changes.update({name: value for name, value in given.items() if value is not None})
    if from_env and ca_bundle is None:
        ca_bundle = envvars.env_value(env, envvars.CA_BUNDLE)

    # Read what is stored first (a wrong key fails here), then ask and validate, and only
    # then write anything, a new key file included.
    store = existing_store(env)
    existing = store.load() if store is not None else StoredCredentials()
    changes.update(_prompt_missing(side, existing.merged(side, changes).side(side)))
    build(MODELS[side], existing.merged(side, changes).side(side))

    if store is None:
        store, created_key = open_or_create_store(env)
        if created_key is not None:
            err.print(
                f"created a new credentials key in [bold]{created_key}[/bold] (mode 0600)."
                " Back it up apart from the store: without it the store cannot be read."
            )

    def change(stored: StoredCredentials) -> StoredCredentials:
        merged = stored.merged(side, changes)
        return merged.model_copy(update={"ca_bundle": ca_bundle}) if ca_bundle else merged

    stored = store.update(change)
    names = ", ".join(sorted(stored.side(side)))
    err.print(f"stored {SIDE_TITLES[side]} credentials in {store.path} ({names})")
    for setting in side_settings(side, env, stored).values():
        if setting.source == "env" and setting.note:
            err.print(
                f"[yellow]note:[/yellow] {setting.env_var} is set in this environment and wins"
                " over the stored value"
            )


def _as_secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value is not None else None


@set_.command("rippling")
@_common_set_options
@click.option("--base-url", help="Rippling REST API (v2) base URL.")
@click.option("--v1-base-url", help="Rippling platform API (v1) base URL.")
@click.option("--api-version", help="Rippling API version header, if pinned.")
@_secret_option("--api-token", "Rippling API token")
@click.option("--oauth-client-id", help="OAuth App Shop client id.")
@_secret_option("--oauth-client-secret", "OAuth client secret")
@_secret_option("--oauth-refresh-token", "OAuth refresh token")
@click.option("--oauth-token-url", help="OAuth token endpoint.")
@_reports_errors
def set_rippling(from_env: bool, ca_bundle: str | None, **given: Any) -> None:
    """Store Rippling credentials: an API token, or an OAuth client and refresh token."""
    for name in ("api_token", "oauth_client_secret", "oauth_refresh_token"):
        given[name] = _as_secret(given[name])
    _set_side("rippling", given, from_env, ca_bundle)


@set_.command("dynamics")
@_common_set_options
@click.option("--environment-url", help="F&O environment, https://<name>.operations.dynamics.com.")
@click.option("--tenant-id", help="Entra ID tenant (directory) id.")
@click.option("--client-id", help="App registration (client) id.")
@_secret_option("--client-secret", "App registration client secret")
@click.option("--authority-host", help="Entra ID authority host.")
@click.option(
    "--allow-any-host/--no-allow-any-host",
    default=None,
    help="Allow an environment host outside dynamics.com (sandbox, private link).",
)
@_reports_errors
def set_dynamics(from_env: bool, ca_bundle: str | None, **given: Any) -> None:
    """Store Dynamics 365 F&O credentials: an Entra ID app registration."""
    given["client_secret"] = _as_secret(given["client_secret"])
    _set_side("dynamics", given, from_env, ca_bundle)


@set_.command("alerts")
@_common_set_options
@_secret_option("--teams-webhook-url", "Teams incoming webhook URL (the whole URL is secret)")
@_secret_option("--smtp-password", "Password of ML_CONNECTOR_SMTP_USER on the SMTP server")
@_reports_errors
def set_alerts(from_env: bool, ca_bundle: str | None, **given: Any) -> None:
    """Store the alert channels' secrets: the Teams webhook URL and/or the SMTP password."""
    for name in envvars.ALERTS:
        given[name] = _as_secret(given[name])
    _set_side("alerts", given, from_env, ca_bundle)


# --- show --------------------------------------------------------------------------------------
def _display(setting: Setting) -> Text:
    if setting.value is None:
        return Text("—", style="dim")
    if setting.secret:
        return Text(mask(setting.value.get_secret_value()))
    if isinstance(setting.value, bool):
        return Text(str(setting.value).lower())
    return Text(str(setting.value))


def _source(setting: Setting) -> Text:
    styles = {"env": "cyan", "store": "green", "default": "dim", "unset": "dim", "missing": "red"}
    style = styles[setting.source]
    text = Text(setting.source, style=style)
    if setting.note:
        text.append(f" ({setting.note})", style="dim")
    return text


@credentials.command()
@_reports_errors
def show() -> None:
    """Where the store and key are, and each setting's value (secrets masked) and source."""
    env = ENVIRONMENT
    out = _stdout()
    path = store_path(env)
    out.print(Text(f"store: {path}" + ("" if path.is_file() else " (not created yet)")))
    out.print(Text(f"key:   {describe_key_source(env)}"))
    store = existing_store(env)
    stored = store.load() if store is not None else StoredCredentials()
    side: Side
    for side in ("rippling", "dynamics", "alerts"):
        settings = side_settings(side, env, stored)
        table = Table(title=SIDE_TITLES[side], title_justify="left")
        table.add_column("setting", no_wrap=True)
        table.add_column("value", overflow="fold")
        table.add_column("source")
        for setting in settings.values():
            table.add_row(setting.env_var, _display(setting), _source(setting))
        out.print(table)
        missing = missing_names(side, settings)
        if missing:
            out.print(Text(f"{SIDE_TITLES[side]}: missing " + ", ".join(missing), style="red"))
    ca = ca_bundle_setting(env, stored)
    out.print(Text(f"{ca.env_var}: ") + _display(ca) + Text(" ") + _source(ca))


# --- rotate-key --------------------------------------------------------------------------------
@credentials.command("rotate-key")
@click.option(
    "--print-new-key",
    is_flag=True,
    help="Needed when the key comes from ML_CONNECTOR_CREDENTIALS_KEY: print the new value"
    " (new key, previous key) once on stdout, for your secret manager.",
)
@click.option(
    "--values-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Stored asset values to re-encrypt too (default $DAGSTER_HOME/storage/ml_connector,"
    " where the IO manager keeps them).",
)
@_reports_errors
def rotate_key(print_new_key: bool, values_dir: Path | None) -> None:
    """Re-encrypt the store and the stored asset values with a new key; keep the previous second.

    The stored values (payroll snapshots, journals, workers) are sealed with the same key ring,
    so they are re-encrypted in the same step: after the next rotation retires today's key,
    nothing written under it remains. Until then the previous key still reads them, so a value
    a run wrote while this command ran stays readable.
    """
    env = ENVIRONMENT
    err = _stderr()
    values_root_dir = values_dir or values_root(current_settings().dagster_home)
    store = open_store(env)
    from_env = store.keyring.path is None
    if from_env and not print_new_key:
        raise click.ClickException(
            f"the key comes from {envvars.KEY}, which this command cannot update. Rerun with"
            " --print-new-key to get the new value printed once (put it in your secret"
            f" manager as {envvars.KEY}), or unset it and keep the key in a key file"
            f" ({envvars.KEY_FILE})"
        )
    retired = max(len(store.keyring) - 1, 0)
    had_store = store.exists()

    def publish(ring: Any) -> None:
        if from_env:
            click.echo(",".join(ring.reveal()))

    outcome: dict[str, Any] = {}

    def reencrypt(ring: KeyRing) -> None:
        outcome["done"], outcome["skipped"] = reencrypt_tree(values_root_dir, ring)
        # Values kept in a database (ML_CONNECTOR_STORAGE_URL) are re-encrypted there too.
        from ml_connector_dagster.defs.io_manager import CODEC
        from ml_connector_dagster.defs.value_storage import reencrypt_database_values

        outcome["database"] = reencrypt_database_values(CODEC, ring)

    rotated = store.rotate_key(publish, reencrypt)
    if from_env:
        err.print(
            f"set {envvars.KEY} to the value printed above (new key first, previous second)"
            " before the next run"
        )
    else:
        err.print(f"key file {rotated.keyring.path}: new primary key, previous key kept second")
        if print_new_key:
            err.print("--print-new-key ignored: the key file holds the keys")
    if retired > 1:
        err.print(f"{retired - 1} older key(s) retired")
    if had_store:
        err.print(f"store {store.path} re-encrypted with the new key")
    else:
        err.print(f"no store at {store.path} yet; only the key was rotated")
    err.print(
        f"{outcome['done']} stored asset value(s) under {values_root_dir} re-encrypted with the"
        " new key"
    )
    if outcome.get("database") is not None:
        done, skipped = outcome["database"]
        err.print(f"{done} stored asset value(s) in the storage database re-encrypted")
        for name in skipped:
            err.print(
                f"[yellow]left as it was:[/yellow] {name} in the storage database (another"
                " format or key: re-materialize its asset)"
            )
    for path in outcome["skipped"]:
        err.print(
            f"[yellow]left as it was:[/yellow] {path} (another format or key: re-materialize"
            " its asset)"
        )
    legacy = legacy_files(values_root_dir)
    if legacy:
        err.print(
            f"[yellow]{len(legacy)} pickle file(s) of an earlier release under"
            f" {values_root_dir} hold pay in clear:[/yellow] delete them"
            " (`find <dir> -name '*.pickle' -delete`); they are never read"
        )


# --- delete ------------------------------------------------------------------------------------
@credentials.command()
@click.argument("side", type=click.Choice(["rippling", "dynamics", "alerts", "all"]))
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_reports_errors
def delete(side: str, yes: bool) -> None:
    """Forget one side's stored credentials, or remove the whole store (``all``)."""
    env = ENVIRONMENT
    err = _stderr()
    path = store_path(env)
    if not path.is_file():
        err.print(f"no store at {path}; nothing to delete")
        return
    what = "the whole credentials store" if side == "all" else f"the stored {side} credentials"
    if not yes:
        click.confirm(f"Delete {what} ({path})?", abort=True)
    if side == "all":
        remove_store_file(path)  # no key needed: this also gets rid of a store whose key is lost
        err.print(f"deleted {path}; the key is unchanged ({describe_key_source(env)})")
        return
    store = open_store(env)
    store.delete(typing.cast(Side, side))
    err.print(f"deleted {what} from {path}")
