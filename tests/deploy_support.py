"""Reading deploy/ the way its consumers do: the Dockerfile, the compose files, the Helm values.

Neither Docker nor Helm runs here (no registry, no cluster), so the tests read the files
statically: the Dockerfile's instructions, the compose file and Dagster instance files as YAML,
and the Helm values through ``helm_instance_config``, which writes the ``dagster.yaml`` Dagster's
chart would put in its instance ConfigMap for these values. It follows the chart's templates
(helm/dagster/templates/configmap-instance.yaml and helpers/instance/_postgresql.tpl,
_run-launcher.tpl, _run-coordinator.tpl in dagster-io/dagster) for the keys
deploy/helm/values.yaml sets, and refuses values it does not know how to render, so a new key
cannot slip past the instance check unread.
"""

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE_DIR = DEPLOY / "compose"
HELM_VALUES = DEPLOY / "helm" / "values.yaml"

# A name whose value would be a secret: the connector's and Dagster's conventions.
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|CREDENTIALS_KEY$|AUDIT_URL|WEBHOOK_URL", re.I)
# A name that only names a secret held elsewhere (a Kubernetes Secret, a key file, a store).
SECRET_REFERENCE_NAME = re.compile(r"SecretName$|^envSecrets$|_FILE$|Secrets?$", re.I)
# `${VAR}`, `${VAR:-default}`, `${VAR:?message}`: compose interpolation.
COMPOSE_REFERENCE = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[:?\-][^}]*)?\}$")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@dataclass(frozen=True)
class Instruction:
    keyword: str
    argument: str

    def exec_form(self) -> list[str]:
        """The JSON (exec) form of CMD/ENTRYPOINT; a shell form is refused."""
        value = json.loads(self.argument)
        if not isinstance(value, list):
            raise ValueError(f"{self.keyword} is not in exec form: {self.argument}")
        return value


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions, with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, argument = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), argument.strip()))
    return instructions


def dockerfile_env(instructions: list[Instruction]) -> dict[str, str]:
    """ENV keys and values (``ENV A=1 B=2`` form)."""
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.argument):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def option(args: list[str], *names: str) -> str:
    """The value after the first of ``names`` in a command line."""
    for index, arg in enumerate(args):
        if arg in names:
            return args[index + 1]
    raise KeyError(f"none of {names} in {args}")


def workspace_server(workspace: Mapping[str, Any]) -> Mapping[str, Any]:
    (entry,) = workspace["load_from"]
    return entry["grpc_server"]


def repo_workspace_module() -> Mapping[str, Any]:
    (entry,) = load_yaml(REPO / "workspace.yaml")["load_from"]
    return entry["python_module"]


def walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (key path, value) of a YAML document, lists indexed by position."""
    yield path, value
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from walk(child, (*path, str(key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk(child, (*path, str(index)))


def env_file_names(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of an env file, comments and blank lines skipped."""
    names: dict[str, str] = {}
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep:
            raise ValueError(f"{path.name}: not NAME=value: {line!r}")
        names[name] = value
    return names


# --- the Helm chart's instance ConfigMap ----------------------------------------------------

# What this renderer covers of the chart's values: everything else must be left at the chart's
# default (absent from deploy/helm/values.yaml), or the renderer raises.
_RENDERED_K8S_LAUNCHER_KEYS = {"loadInclusterConfig", "imagePullPolicy", "failPodOnRunFailure"}


class UnrenderedValue(AssertionError):
    """deploy/helm/values.yaml sets a key this renderer does not reproduce."""


def helm_instance_config(
    values: Mapping[str, Any], release: str = "ml-connector", namespace: str = "ml-connector"
) -> dict[str, Any]:
    """The ``dagster.yaml`` the chart renders for ``values`` (the keys the values file uses)."""
    fullname = f"{release}-dagster"
    postgresql = values["postgresql"]
    postgres_db = {
        "username": postgresql["postgresqlUsername"],
        # The chart always reads the password from the Secret, as this variable.
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": postgresql["postgresqlHost"],
        "db_name": postgresql["postgresqlDatabase"],
        "port": postgresql["service"]["port"],
        "params": postgresql.get("postgresqlParams", {}),
    }

    def storage(module: str, cls: str) -> dict[str, Any]:
        return {"module": module, "class": cls, "config": {"postgres_db": dict(postgres_db)}}

    launcher = values["runLauncher"]
    if launcher["type"] != "K8sRunLauncher":
        raise UnrenderedValue(f"run launcher {launcher['type']} is not rendered here")
    k8s = launcher["config"]["k8sRunLauncher"]
    unknown = set(k8s) - _RENDERED_K8S_LAUNCHER_KEYS
    if unknown:
        raise UnrenderedValue(f"runLauncher.config.k8sRunLauncher keys not rendered: {unknown}")
    launcher_config: dict[str, Any] = {
        "load_incluster_config": k8s["loadInclusterConfig"],
        "job_namespace": k8s.get("jobNamespace") or namespace,
        "image_pull_policy": k8s["imagePullPolicy"],
        "service_account_name": fullname,
        "dagster_home": values["global"]["dagsterHome"],
        "instance_config_map": f"{fullname}-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
    }
    if k8s.get("failPodOnRunFailure"):
        launcher_config["fail_pod_on_run_failure"] = True

    config: dict[str, Any] = {
        "scheduler": {"module": "dagster.core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": storage("dagster_postgres.schedule_storage", "PostgresScheduleStorage"),
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": launcher_config,
        },
        "run_storage": storage("dagster_postgres.run_storage", "PostgresRunStorage"),
        "event_log_storage": storage("dagster_postgres.event_log", "PostgresEventLogStorage"),
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }

    daemon = values["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    if coordinator.get("enabled"):
        if coordinator["type"] != "QueuedRunCoordinator":
            raise UnrenderedValue(f"run coordinator {coordinator['type']} is not rendered here")
        queued = (coordinator.get("config") or {}).get("queuedRunCoordinator") or {}
        rendered: dict[str, Any] = {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
        }
        if any(value not in (None, [], {}) for value in queued.values()):
            raise UnrenderedValue("queuedRunCoordinator config is not rendered here")
        config["run_coordinator"] = rendered
    if daemon.get("runMonitoring", {}).get("enabled"):
        raise UnrenderedValue("dagsterDaemon.runMonitoring is not rendered here")

    for key, value in (values.get("additionalInstanceConfig") or {}).items():
        if key in config:
            raise UnrenderedValue(f"additionalInstanceConfig repeats the chart's key {key}")
        config[key] = value
    return config
