"""deploy/compose: the instance file loads with dagster-docker, and the compose file agrees with it.

The instance file is loaded as Dagster loads it (``dagster_instance_config``, ``InstanceRef``,
and on the test PostgreSQL a whole ``DagsterInstance``); the compose file is read as YAML and
compared with it, with the workspace file and with deploy/Dockerfile.
"""

import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import RunLauncher
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_docker import DockerRunLauncher
from deploy_support import (
    COMPOSE_DIR,
    COMPOSE_REFERENCE,
    DOCKERFILE,
    REPO,
    SECRET_NAME,
    dockerfile_env,
    dockerfile_instructions,
    env_file_names,
    load_yaml,
    option,
    repo_workspace_module,
    walk,
    workspace_server,
)

from ml_connector_dagster.config.settings import ConnectorSettings, variable_name
from ml_connector_dagster.credentials import envvars

COMPOSE = load_yaml(COMPOSE_DIR / "docker-compose.yaml")
INSTANCE = load_yaml(COMPOSE_DIR / "dagster.yaml")
WORKSPACE = load_yaml(COMPOSE_DIR / "workspace.yaml")
SERVICES = COMPOSE["services"]
DAGSTER_SERVICES = ("code_location", "webserver", "daemon")
ENV_EXAMPLE = COMPOSE_DIR / "connector.env.example"
PG_VARIABLES = {
    "DAGSTER_PG_HOST": "127.0.0.1",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USERNAME": "deploy_test_user",
    "DAGSTER_PG_PASSWORD": "deploy-test-password",
    "DAGSTER_PG_DB": "deploy_test_db",
}
# Settings a run does not read: the image fixes DAGSTER_HOME; the other two only choose the
# instance template `ml-connector home` copies on a single machine.
NOT_FORWARDED = {"DAGSTER_HOME", "ML_CONNECTOR_INSTANCE", "ML_CONNECTOR_DAGSTER_YAML"}


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(COMPOSE_DIR / "dagster.yaml", home / "dagster.yaml")
    return home


def _storage_env_names(instance: dict[str, Any]) -> dict[str, str]:
    postgres_db = instance["storage"]["postgres"]["postgres_db"]
    return {key: value["env"] for key, value in postgres_db.items()}


def _dockerfile_port() -> str:
    command = next(i for i in dockerfile_instructions() if i.keyword == "CMD").exec_form()
    return option(command, "-p", "--port")


def _mounts(service: str) -> dict[str, str]:
    """Volume or host path -> mount path of a service."""
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target, *_mode = volume.split(":")
        mounts[source] = target
    return mounts


def _connector_variables() -> set[str]:
    names = {variable_name(field) for field in ConnectorSettings.model_fields} - NOT_FORWARDED
    for side in envvars.SIDES.values():
        names.update(side.values())
    return names


# --- the instance file, loaded by Dagster --------------------------------------------------


def test_instance_file_validates_with_the_docker_run_launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PG_VARIABLES.items():
        monkeypatch.setenv(name, value)
    home = _home(tmp_path)
    config, custom_class = dagster_instance_config(str(home))
    assert custom_class is None
    ref = InstanceRef.from_dir(str(home))
    launcher = ref.run_launcher_data.rehydrate(as_type=RunLauncher)
    assert isinstance(launcher, DockerRunLauncher)
    assert launcher.networks == [COMPOSE["networks"]["ml_connector"]["name"]]
    coordinator = ref.run_coordinator_data.rehydrate(as_type=QueuedRunCoordinator)
    assert isinstance(coordinator, QueuedRunCoordinator)
    assert config["run_monitoring"]["max_runtime_seconds"] > 0
    # The storage resolves its password from the environment, not from the file.
    assert "deploy-test-password" not in (COMPOSE_DIR / "dagster.yaml").read_text()


def test_instance_file_runs_an_instance_on_postgres(
    tmp_path: Path, postgres: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("host", "port", "username", "password", "db"):
        monkeypatch.setenv(f"DAGSTER_PG_{key.upper()}", postgres[key])
    instance = dg.DagsterInstance.from_config(str(_home(tmp_path)))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert isinstance(instance.run_launcher, DockerRunLauncher)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds == 3 * 60 * 60
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config is not None
        assert concurrency.run_queue_config.max_concurrent_runs == 10
        assert concurrency.pool_config.default_pool_limit == 1
    finally:
        instance.dispose()


def test_storage_uses_the_variables_of_the_repository_postgres_instance() -> None:
    repository = load_yaml(REPO / "dagster.postgres.yaml")
    assert _storage_env_names(INSTANCE) == _storage_env_names(repository)
    # The limits are the single-machine PostgreSQL instance's too.
    assert INSTANCE["concurrency"] == repository["concurrency"]


# --- the compose file against the instance, the workspace and the Dockerfile --------------


def test_compose_has_postgres_15_and_the_three_dagster_services() -> None:
    assert set(SERVICES) == {"postgres", *DAGSTER_SERVICES}
    image = SERVICES["postgres"]["image"]
    assert image.startswith("postgres:15."), image


def test_every_dagster_service_gets_the_instance_storage_variables() -> None:
    names = set(_storage_env_names(INSTANCE).values())
    assert names == set(PG_VARIABLES)
    for service in DAGSTER_SERVICES:
        assert names <= set(SERVICES[service]["environment"]), service
    host = SERVICES["code_location"]["environment"]["DAGSTER_PG_HOST"]
    assert host in SERVICES


def test_postgres_is_created_with_the_names_dagster_connects_with() -> None:
    postgres = SERVICES["postgres"]["environment"]
    dagster = SERVICES["daemon"]["environment"]
    for server_name, client_name in (
        ("POSTGRES_DB", "DAGSTER_PG_DB"),
        ("POSTGRES_USER", "DAGSTER_PG_USERNAME"),
        ("POSTGRES_PASSWORD", "DAGSTER_PG_PASSWORD"),
    ):
        # Both sides are the same reference, default included.
        assert postgres[server_name] == dagster[client_name], server_name
        match = COMPOSE_REFERENCE.match(postgres[server_name])
        assert match and match["name"] == client_name, postgres[server_name]


def test_workspace_points_at_the_code_location_service_and_port() -> None:
    server = workspace_server(WORKSPACE)
    assert server["host"] == "code_location"
    assert str(server["port"]) == _dockerfile_port()
    assert server["location_name"] == repo_workspace_module()["location_name"]
    healthcheck = SERVICES["code_location"]["healthcheck"]["test"]
    assert option(healthcheck, "-p") == _dockerfile_port()


def test_one_image_everywhere_built_from_the_dockerfile() -> None:
    code = SERVICES["code_location"]
    build = code["build"]
    assert (COMPOSE_DIR / build["context"]).resolve() == REPO
    assert (REPO / build["dockerfile"]).resolve() == DOCKERFILE
    image = code["image"]
    assert {SERVICES[s]["image"] for s in DAGSTER_SERVICES} == {image}
    # The code server reports this image; the run launcher starts runs from it.
    assert code["environment"]["DAGSTER_CURRENT_IMAGE"] == image
    assert "image" not in INSTANCE["run_launcher"]["config"]


def test_webserver_and_daemon_read_the_mounted_instance_and_workspace() -> None:
    home = dockerfile_env(dockerfile_instructions())["DAGSTER_HOME"]
    for service in ("webserver", "daemon"):
        mounts = _mounts(service)
        assert mounts["./dagster.yaml"] == f"{home}/dagster.yaml"
        assert mounts["./workspace.yaml"] == f"{home}/workspace.yaml"
        entrypoint = SERVICES[service]["entrypoint"]
        assert option(entrypoint, "-w") == f"{home}/workspace.yaml"
        # The Docker socket: the daemon launches run containers, the webserver stops them.
        assert mounts["/var/run/docker.sock"] == "/var/run/docker.sock"
    assert _mounts("code_location")["./dagster.yaml"] == f"{home}/dagster.yaml"


def test_run_containers_share_the_volumes_and_network_of_the_code_location() -> None:
    launcher = INSTANCE["run_launcher"]["config"]
    code_mounts = _mounts("code_location")
    named = {key: value["name"] for key, value in COMPOSE["volumes"].items() if value}
    for volume in launcher["container_kwargs"]["volumes"]:
        name, target = volume.split(":")[:2]
        compose_key = next(key for key, fixed in named.items() if fixed == name)
        # Same volume, same place, as in the code location (steps run in either).
        assert code_mounts[compose_key] == target
    assert len(launcher["container_kwargs"]["volumes"]) == len(named)
    home = dockerfile_env(dockerfile_instructions())["DAGSTER_HOME"]
    # Step outputs live under $DAGSTER_HOME/storage: that one must be shared.
    assert f"{home}/storage" in code_mounts.values()
    network = COMPOSE["networks"]["ml_connector"]["name"]
    assert launcher["network"] == network
    for service in SERVICES.values():
        assert service["networks"] == ["ml_connector"]


def test_runs_get_every_connector_setting_the_code_location_gets() -> None:
    example = env_file_names(ENV_EXAMPLE)
    assert set(example) == _connector_variables()
    forwarded = INSTANCE["run_launcher"]["config"]["env_vars"]
    assert len(forwarded) == len(set(forwarded))
    assert set(forwarded) == set(example) | set(PG_VARIABLES)
    # Names only: the values come from the daemon's environment.
    assert all("=" not in name for name in forwarded)
    for service in ("code_location", "daemon"):
        assert SERVICES[service]["env_file"] == ["connector.env"]


# --- secrets by reference -------------------------------------------------------------------


def test_compose_holds_no_secret_value() -> None:
    for path, value in walk(COMPOSE):
        if path and SECRET_NAME.search(path[-1]) and value is not None:
            match = COMPOSE_REFERENCE.match(value) if isinstance(value, str) else None
            assert match, path
            # `${VAR:-default}` / `${VAR-default}` would be a password written here.
            assert not (match["rest"] or "").lstrip(":").startswith("-"), path


def test_instance_file_takes_secrets_from_the_environment() -> None:
    for path, value in walk(INSTANCE):
        if path and SECRET_NAME.search(path[-1]):
            assert isinstance(value, dict) and set(value) == {"env"}, path


def test_env_example_leaves_every_secret_empty_and_the_real_file_is_ignored() -> None:
    example = env_file_names(ENV_EXAMPLE)
    secrets = {name for name in example if SECRET_NAME.search(name)}
    assert {"RIPPLING_API_TOKEN", "DYNAMICS_CLIENT_SECRET", "ML_CONNECTOR_AUDIT_URL"} <= secrets
    assert {name: example[name] for name in secrets if example[name]} == {}
    ignored = (COMPOSE_DIR / ".gitignore").read_text().split()
    assert "connector.env" in ignored and ".env" in ignored
