"""Resolution: environment first per field, the rotated refresh token excepted."""

import datetime as dt
import os

import pytest
from pydantic import SecretStr

from ml_connector_dagster.credentials.errors import MissingCredentialsError, MissingKeyError
from ml_connector_dagster.credentials.locate import open_store
from ml_connector_dagster.credentials.models import CredentialsError
from ml_connector_dagster.credentials.resolve import (
    resolve_alerts,
    resolve_ca_bundle,
    resolve_credentials,
    resolve_dynamics,
    resolve_rippling,
    side_settings,
)
from ml_connector_dagster.credentials.store import (
    CredentialStore,
    StoredAlerts,
    StoredCredentials,
    StoredDynamics,
    StoredRippling,
)

DYNAMICS_ENV = {
    "DYNAMICS_ENVIRONMENT_URL": "https://env.operations.dynamics.com/",
    "DYNAMICS_TENANT_ID": "tenant-env",
    "DYNAMICS_CLIENT_ID": "client-env",
}


@pytest.fixture
def env(secrets) -> dict[str, str]:
    return {
        "RIPPLING_API_TOKEN": secrets.rippling_token,
        **DYNAMICS_ENV,
        "DYNAMICS_CLIENT_SECRET": secrets.dynamics_secret,
    }


def test_environment_alone_is_enough(env, store: CredentialStore, secrets) -> None:
    creds = resolve_credentials(env, store)
    assert creds.rippling.api_token.get_secret_value() == secrets.rippling_token
    assert not creds.rippling.uses_oauth
    assert creds.dynamics.environment_url == "https://env.operations.dynamics.com"
    assert creds.dynamics.client_secret.get_secret_value() == secrets.dynamics_secret
    assert creds.ca_bundle is None


def test_environment_wins_per_field_and_the_store_fills_the_rest(
    store: CredentialStore, secrets
) -> None:
    store.save(
        StoredCredentials(
            dynamics=StoredDynamics(
                environment_url="https://stored.operations.dynamics.com",
                tenant_id="tenant-store",
                client_id="client-store",
                client_secret=secrets.dynamics_secret,
            ),
            ca_bundle="/stored/ca.pem",
        )
    )
    env = {"DYNAMICS_TENANT_ID": "tenant-env", "ML_CONNECTOR_CA_BUNDLE": "/env/ca.pem"}
    dynamics = resolve_dynamics(env, store)
    assert dynamics.tenant_id == "tenant-env"
    assert dynamics.client_id == "client-store"
    assert dynamics.environment_url == "https://stored.operations.dynamics.com"
    assert dynamics.client_secret.get_secret_value() == secrets.dynamics_secret
    assert resolve_ca_bundle(env, store) == "/env/ca.pem"
    assert resolve_ca_bundle({}, store) == "/stored/ca.pem"
    sources = {name: s.source for name, s in side_settings("dynamics", env, store.load()).items()}
    assert sources == {
        "environment_url": "store",
        "tenant_id": "env",
        "client_id": "store",
        "client_secret": "store",
        "authority_host": "default",
        "allow_any_host": "default",
    }


def test_empty_variables_count_as_unset(store: CredentialStore, secrets) -> None:
    store.save(StoredCredentials(rippling=StoredRippling(api_token=secrets.rippling_token)))
    rippling = resolve_rippling({"RIPPLING_API_TOKEN": ""}, store)
    assert rippling.api_token.get_secret_value() == secrets.rippling_token


def _oauth_env(secrets) -> dict[str, str]:
    return {
        "RIPPLING_OAUTH_CLIENT_ID": "cid",
        "RIPPLING_OAUTH_CLIENT_SECRET": secrets.oauth_secret,
        "RIPPLING_OAUTH_REFRESH_TOKEN": secrets.refresh_token,
    }


def test_environment_refresh_token_wins_until_one_is_rotated_into_the_store(
    store: CredentialStore, secrets
) -> None:
    env = _oauth_env(secrets)
    # Stored by an operator (no rotation mark): the environment still wins.
    store.save(StoredCredentials(rippling=StoredRippling(oauth_refresh_token="operator-set")))
    assert resolve_rippling(env, store).oauth_refresh_token.get_secret_value() == (
        secrets.refresh_token
    )
    store.write_rotated_refresh_token(SecretStr(secrets.rotated_refresh_token))
    rippling = resolve_rippling(env, store)
    assert rippling.uses_oauth
    assert rippling.oauth_refresh_token.get_secret_value() == secrets.rotated_refresh_token
    # Only the refresh token is affected: other fields still come from the environment.
    assert rippling.oauth_client_secret.get_secret_value() == secrets.oauth_secret
    setting = side_settings("rippling", env, store.load())["oauth_refresh_token"]
    assert setting.source == "store"
    assert "RIPPLING_OAUTH_REFRESH_TOKEN is superseded" in setting.note


def test_missing_settings_are_all_listed_by_name(store: CredentialStore, secrets) -> None:
    with pytest.raises(MissingCredentialsError) as caught:
        resolve_credentials({"DYNAMICS_CLIENT_SECRET": secrets.dynamics_secret}, store)
    error = caught.value
    assert "RIPPLING_API_TOKEN" in error.missing[0]
    assert "RIPPLING_OAUTH_REFRESH_TOKEN" in error.missing[0]
    assert list(error.missing[1:]) == [
        "DYNAMICS_ENVIRONMENT_URL",
        "DYNAMICS_TENANT_ID",
        "DYNAMICS_CLIENT_ID",
    ]
    assert "ml-connector credentials set" in str(error)
    assert secrets.dynamics_secret not in str(error)


def test_partial_oauth_lists_only_the_missing_oauth_settings(store: CredentialStore) -> None:
    with pytest.raises(MissingCredentialsError) as caught:
        resolve_rippling({"RIPPLING_OAUTH_CLIENT_ID": "cid"}, store)
    assert caught.value.missing == ("RIPPLING_OAUTH_CLIENT_SECRET", "RIPPLING_OAUTH_REFRESH_TOKEN")


def test_invalid_values_are_credentials_errors_without_secrets(env, store, secrets) -> None:
    bad = {**env, "DYNAMICS_ENVIRONMENT_URL": "https://erp.example.com"}
    with pytest.raises(CredentialsError, match="DYNAMICS_ALLOW_ANY_HOST=true") as caught:
        resolve_credentials(bad, store)
    assert secrets.dynamics_secret not in str(caught.value)
    allowed = resolve_dynamics({**bad, "DYNAMICS_ALLOW_ANY_HOST": "TRUE"}, store)
    assert allowed.allow_any_host is True
    with pytest.raises(CredentialsError, match="DYNAMICS_ALLOW_ANY_HOST must be true or false"):
        resolve_dynamics({**bad, "DYNAMICS_ALLOW_ANY_HOST": "maybe"}, store)
    with pytest.raises(CredentialsError, match="base_url must be an https URL"):
        resolve_rippling({**env, "RIPPLING_API_BASE_URL": "http://plain"}, store)


def test_default_store_is_found_from_the_environment(
    paths, env, secrets, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No file: the environment alone, no key needed.
    assert resolve_credentials(env).rippling.api_token == SecretStr(secrets.rippling_token)
    monkeypatch.setenv("ML_CONNECTOR_CREDENTIALS_KEY", key)
    open_store(os.environ).write_rotated_refresh_token(
        SecretStr(secrets.rotated_refresh_token), at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    oauth = {**DYNAMICS_ENV, "DYNAMICS_CLIENT_SECRET": "x" * 20, **_oauth_env(secrets)}
    full_env = {**os.environ, **oauth}
    creds = resolve_credentials(full_env)
    assert creds.rippling.oauth_refresh_token.get_secret_value() == secrets.rotated_refresh_token
    # The file exists now: without its key that is an error, not a silent environment-only run.
    del full_env["ML_CONNECTOR_CREDENTIALS_KEY"]
    with pytest.raises(MissingKeyError):
        resolve_credentials(full_env)


def test_alert_secrets_are_optional_and_resolve_like_the_others(
    store: CredentialStore, secrets
) -> None:
    """Nothing set: both channels' secrets are absent (not an error). Stored: read from the
    store; the environment wins per field."""
    assert resolve_alerts({}, store) == resolve_alerts({}, None)
    assert resolve_alerts({}, store).teams_webhook_url is None
    store.save(
        StoredCredentials(
            alerts=StoredAlerts(
                teams_webhook_url=secrets.teams_webhook_url, smtp_password="stored-password"
            )
        )
    )
    stored = resolve_alerts({}, store)
    assert stored.teams_webhook_url.get_secret_value() == secrets.teams_webhook_url
    from_env = resolve_alerts({"ML_CONNECTOR_SMTP_PASSWORD": secrets.smtp_password}, store)
    assert from_env.smtp_password.get_secret_value() == secrets.smtp_password
    assert from_env.teams_webhook_url == stored.teams_webhook_url
    assert secrets.teams_webhook_url not in repr(stored) + str(stored.model_dump())


def test_a_webhook_url_that_is_not_https_is_refused_without_showing_it(store) -> None:
    url = "http://acme.webhook.office.com/webhookb2/secret-part-Zq8yW3"
    with pytest.raises(CredentialsError, match="ML_CONNECTOR_TEAMS_WEBHOOK_URL") as caught:
        resolve_alerts({"ML_CONNECTOR_TEAMS_WEBHOOK_URL": url}, store)
    assert "secret-part-Zq8yW3" not in str(caught.value)
