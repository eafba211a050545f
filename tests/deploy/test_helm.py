"""deploy/helm/values.yaml: keys the official chart knows, an instance dagster-k8s loads, and the
same code location, image, storage and limits as the Dockerfile and deploy/compose.
"""

import tomllib
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import RunLauncher
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_k8s import K8sRunLauncher
from deploy_support import (
    COMPOSE_DIR,
    COMPOSE_REFERENCE,
    HELM_VALUES,
    REPO,
    SECRET_NAME,
    SECRET_REFERENCE_NAME,
    dockerfile_env,
    dockerfile_instructions,
    helm_instance_config,
    load_yaml,
    repo_workspace_module,
    walk,
)

VALUES = load_yaml(HELM_VALUES)
COMPOSE = load_yaml(COMPOSE_DIR / "docker-compose.yaml")
COMPOSE_INSTANCE = load_yaml(COMPOSE_DIR / "dagster.yaml")
(DEPLOYMENT,) = VALUES["dagster-user-deployments"]["deployments"]

# The chart's value keys, from its values.schema.json (helm/dagster/values.schema.json in
# dagster-io/dagster) for the sections this file sets. A mapping lists the keys allowed at that
# level (and how to check below them); None: free-form there (a Kubernetes object, env, config).
_IMAGE = {"repository": None, "tag": None, "pullPolicy": None}
_USER_DEPLOYMENT = {
    **dict.fromkeys(
        [
            "name",
            "dagsterApiGrpcArgs",
            "codeServerArgs",
            "deploymentNamespace",
            "port",
            "env",
            "envConfigMaps",
            "envSecrets",
            "annotations",
            "nodeSelector",
            "affinity",
            "tolerations",
            "podSecurityContext",
            "securityContext",
            "resources",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "labels",
            "volumeMounts",
            "volumes",
            "schedulerName",
            "initContainers",
            "sidecarContainers",
        ]
    ),
    "image": _IMAGE,
    "includeConfigInLaunchedRuns": {"enabled": None},
}
_K8S_RUN_LAUNCHER = dict.fromkeys(
    [
        "image",
        "imagePullPolicy",
        "jobNamespace",
        "loadInclusterConfig",
        "kubeconfigFile",
        "envConfigMaps",
        "envSecrets",
        "envVars",
        "volumeMounts",
        "volumes",
        "labels",
        "failPodOnRunFailure",
        "resources",
        "schedulerName",
        "securityContext",
        "runK8sConfig",
    ]
)
CHART_KEYS: dict[str, Any] = {
    "global": dict.fromkeys(
        ["postgresqlSecretName", "dagsterHome", "serviceAccountName", "celeryConfigSecretName"]
    ),
    "telemetry": {"enabled": None},
    "generatePostgresqlPasswordSecret": None,
    "postgresql": {
        **dict.fromkeys(
            [
                "image",
                "enabled",
                "postgresqlHost",
                "postgresqlUsername",
                "postgresqlPassword",
                "postgresqlDatabase",
                "postgresqlParams",
                "postgresqlScheme",
            ]
        ),
        "service": {"port": None},
    },
    "dagsterWebserver": {
        "workspace": {
            "enabled": None,
            "externalConfigmap": None,
            "servers": [{"host": None, "port": None, "name": None, "ssl": None}],
        },
    },
    "dagster-user-deployments": {
        "enabled": None,
        "enableSubchart": None,
        "imagePullSecrets": None,
        "deployments": [_USER_DEPLOYMENT],
    },
    "runLauncher": {
        "type": None,
        "config": {
            "k8sRunLauncher": _K8S_RUN_LAUNCHER,
            "celeryK8sRunLauncher": None,
            "customRunLauncher": None,
        },
    },
    "dagsterDaemon": {
        "runCoordinator": {
            "enabled": None,
            "type": None,
            "config": {"queuedRunCoordinator": None, "customRunCoordinator": None},
        },
        # Free-form in the schema; the instance template reads these.
        "runMonitoring": {
            "enabled": None,
            "startTimeoutSeconds": None,
            "cancelTimeoutSeconds": None,
            "maxResumeRunAttempts": None,
            "pollIntervalSeconds": None,
            "freeSlotsAfterRunEndSeconds": None,
        },
    },
    "additionalInstanceConfig": None,
}


def _unknown_keys(value: Any, spec: Any, path: str = "") -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, list):
        return [
            problem
            for index, item in enumerate(value)
            for problem in _unknown_keys(item, spec[0], f"{path}[{index}]")
        ]
    problems = [f"{path}.{key}".lstrip(".") for key in value if key not in spec]
    for key, child in value.items():
        if key in spec:
            problems += _unknown_keys(child, spec[key], f"{path}.{key}")
    return problems


def _write_instance(home: Path, config: dict[str, Any]) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


def _dockerfile_cmd() -> list[str]:
    return next(i for i in dockerfile_instructions() if i.keyword == "CMD").exec_form()


def _compose_default(reference: str) -> str:
    match = COMPOSE_REFERENCE.match(reference)
    assert match and (match["rest"] or "").startswith(":-"), reference
    return match["rest"][2:]


# --- the chart's keys ----------------------------------------------------------------------


def test_values_use_only_keys_of_the_chart() -> None:
    assert _unknown_keys(VALUES, CHART_KEYS) == []


def test_the_key_check_catches_a_misspelt_key() -> None:
    misspelt = {**VALUES, "postgresql": {**VALUES["postgresql"], "postgresqlHostname": "x"}}
    assert _unknown_keys(misspelt, CHART_KEYS) == ["postgresql.postgresqlHostname"]


def test_values_choose_the_k8s_run_launcher_queue_and_external_postgres() -> None:
    assert VALUES["runLauncher"]["type"] == "K8sRunLauncher"
    assert VALUES["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert VALUES["postgresql"]["enabled"] is False
    assert VALUES["generatePostgresqlPasswordSecret"] is False
    assert DEPLOYMENT["image"]["pullPolicy"] in {"Always", "IfNotPresent", "Never"}


# --- the instance the chart renders, loaded by Dagster ------------------------------------


def test_rendered_instance_validates_and_resolves_the_k8s_run_launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "helm-test-password")
    config = helm_instance_config(VALUES)
    home = _write_instance(tmp_path / "home", config)
    validated, _ = dagster_instance_config(str(home))
    assert validated["run_monitoring"]["max_runtime_seconds"] > 0
    ref = InstanceRef.from_dir(str(home))
    assert isinstance(
        ref.run_coordinator_data.rehydrate(as_type=QueuedRunCoordinator), QueuedRunCoordinator
    )
    # In a pod the launcher reads the in-cluster config; here, a kubeconfig naming loopback
    # (nothing is contacted until a run is launched).
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    launcher_config = config["run_launcher"]["config"]
    assert launcher_config["load_incluster_config"] is True
    outside = {
        **launcher_config,
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
    }
    config["run_launcher"]["config"] = outside
    ref = InstanceRef.from_dir(str(_write_instance(tmp_path / "outside", config)))
    launcher = ref.run_launcher_data.rehydrate(as_type=RunLauncher)
    assert isinstance(launcher, K8sRunLauncher)
    assert launcher.supports_check_run_worker_health
    assert launcher.postgres_password_secret == VALUES["global"]["postgresqlSecretName"]
    assert launcher.dagster_home == VALUES["global"]["dagsterHome"]


def test_rendered_instance_runs_on_postgres_with_its_limits(
    tmp_path: Path, postgres: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", postgres["password"])
    config = helm_instance_config(VALUES)
    # The test server instead of the cluster's; the password stays the chart's variable.
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        postgres_db = config[storage]["config"]["postgres_db"]
        assert postgres_db["password"] == {"env": "DAGSTER_PG_PASSWORD"}
        postgres_db.update(
            hostname=postgres["host"],
            port=int(postgres["port"]),
            username=postgres["username"],
            db_name=postgres["db"],
        )
    instance = dg.DagsterInstance.from_config(str(_write_instance(tmp_path / "home", config)))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config is not None
        assert concurrency.run_queue_config.max_concurrent_runs == 10
        assert concurrency.pool_config.default_pool_limit == 1
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds == 3 * 60 * 60
    finally:
        instance.dispose()


def test_helm_and_compose_instances_have_the_same_limits_and_monitoring() -> None:
    rendered = helm_instance_config(VALUES)
    assert rendered["concurrency"] == COMPOSE_INSTANCE["concurrency"]
    assert rendered["run_monitoring"] == COMPOSE_INSTANCE["run_monitoring"]


# --- agreement with the Dockerfile, the workspace and compose -----------------------------


def test_code_location_is_served_as_the_image_serves_it_under_one_name() -> None:
    port = DEPLOYMENT["port"]
    # The chart runs `dagster code-server start -h 0.0.0.0 -p <port> <codeServerArgs>`.
    command = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(port)]
    assert [*command, *DEPLOYMENT["codeServerArgs"]] == _dockerfile_cmd()
    assert "dagsterApiGrpcArgs" not in DEPLOYMENT
    (server,) = VALUES["dagsterWebserver"]["workspace"]["servers"]
    assert VALUES["dagsterWebserver"]["workspace"]["enabled"] is True
    # The chart names the Service after the deployment.
    assert server["host"] == DEPLOYMENT["name"]
    assert server["port"] == port
    assert server["name"] == repo_workspace_module()["location_name"]
    compose_server = load_yaml(COMPOSE_DIR / "workspace.yaml")["load_from"][0]["grpc_server"]
    assert (server["name"], server["port"]) == (
        compose_server["location_name"],
        compose_server["port"],
    )


def test_the_image_is_the_one_compose_builds() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    compose_image = _compose_default(COMPOSE["services"]["code_location"]["image"])
    name, _, tag = compose_image.rpartition(":")
    assert tag == version
    repository = DEPLOYMENT["image"]["repository"]
    assert repository.rsplit("/", 1)[-1] == name
    assert str(DEPLOYMENT["image"]["tag"]) == tag


def test_postgres_names_match_compose_and_the_instance_files() -> None:
    daemon_env = COMPOSE["services"]["daemon"]["environment"]
    postgresql = VALUES["postgresql"]
    assert postgresql["postgresqlDatabase"] == _compose_default(daemon_env["DAGSTER_PG_DB"])
    assert postgresql["postgresqlUsername"] == _compose_default(daemon_env["DAGSTER_PG_USERNAME"])
    rendered = helm_instance_config(VALUES)["run_storage"]["config"]["postgres_db"]
    compose_password = COMPOSE_INSTANCE["storage"]["postgres"]["postgres_db"]["password"]
    assert rendered["password"] == compose_password == {"env": "DAGSTER_PG_PASSWORD"}


def test_pods_mount_the_shared_storage_where_compose_does_and_run_as_the_image_user() -> None:
    home = dockerfile_env(dockerfile_instructions())["DAGSTER_HOME"]
    assert VALUES["global"]["dagsterHome"] == home
    mounts = {mount["mountPath"] for mount in DEPLOYMENT["volumeMounts"]}
    compose_mounts = {
        volume.split(":")[1]
        for volume in COMPOSE_INSTANCE["run_launcher"]["config"]["container_kwargs"]["volumes"]
    }
    assert compose_mounts <= mounts
    claims = [v for v in DEPLOYMENT["volumes"] if "persistentVolumeClaim" in v]
    assert claims, "the step outputs need a volume every run pod mounts"
    assert DEPLOYMENT["includeConfigInLaunchedRuns"]["enabled"] is True
    mapping = DEPLOYMENT["env"]["ML_CONNECTOR_MAPPING"]
    assert mapping in mounts
    user = next(i for i in reversed(dockerfile_instructions()) if i.keyword == "USER")
    security = DEPLOYMENT["podSecurityContext"]
    assert security["runAsNonRoot"] is True
    assert str(security["runAsUser"]) == user.argument.partition(":")[0]
    # fsGroup would make the stored values group-readable, which the connector refuses to read.
    assert "fsGroup" not in security


# --- secrets by reference -------------------------------------------------------------------


def test_values_hold_no_secret_value() -> None:
    assert VALUES["postgresql"]["postgresqlPassword"] == ""
    assert VALUES["global"]["postgresqlSecretName"]
    assert [secret["name"] for secret in DEPLOYMENT["envSecrets"]] == ["ml-connector-env"]
    # Plain env becomes a ConfigMap: never a secret there.
    assert [name for name in DEPLOYMENT["env"] if SECRET_NAME.search(name)] == []
    for path, value in walk(VALUES):
        key = path[-1] if path else ""
        if SECRET_NAME.search(key) and not SECRET_REFERENCE_NAME.search(key):
            assert value in ("", None), path
