"""deploy/Dockerfile, read statically (no Docker here): what the image is and what it runs."""

import importlib.metadata
import re
import tomllib

from deploy_support import (
    DEPLOY,
    REPO,
    SECRET_NAME,
    dockerfile_env,
    dockerfile_instructions,
    option,
    repo_workspace_module,
)

INSTRUCTIONS = dockerfile_instructions()


def _only(keyword: str):
    found = [i for i in INSTRUCTIONS if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
    return found[0]


def test_base_image_is_python_311_slim_pinned_to_a_patch_release() -> None:
    image = _only("FROM").argument
    # python:3.11.N-slim[-suite][@sha256:...]: never `latest`, never a moving `3.11`.
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), image


def test_the_image_runs_as_a_fixed_non_root_user() -> None:
    users = [i for i in INSTRUCTIONS if i.keyword == "USER"]
    assert users, "no USER: the image would run as root"
    user = users[-1].argument
    name, _, group = user.partition(":")
    assert name not in {"root", "0"} and group not in {"root", "0"}, user
    # Numeric, so Kubernetes' runAsNonRoot can check it; the Helm values run it as this id.
    assert name.isdigit(), user
    position = INSTRUCTIONS.index(users[-1])
    assert all(i.keyword != "RUN" for i in INSTRUCTIONS[position:]), "RUN after USER runs as it"


def test_cmd_is_the_code_server_of_the_workspace_module_and_location() -> None:
    assert not [i for i in INSTRUCTIONS if i.keyword == "ENTRYPOINT"], (
        "an ENTRYPOINT would be prefixed to the Helm chart's args and compose's entrypoints"
    )
    command = _only("CMD").exec_form()
    assert command[:3] == ["dagster", "code-server", "start"]
    module = repo_workspace_module()
    assert option(command, "-m", "--module-name") == module["module_name"]
    assert option(command, "--location-name") == module["location_name"]
    assert option(command, "-h", "--host") == "0.0.0.0"
    assert option(command, "-p", "--port") == _only("EXPOSE").argument


def test_no_env_or_arg_carries_a_secret() -> None:
    env = dockerfile_env(INSTRUCTIONS)
    args = [i.argument.partition("=")[0] for i in INSTRUCTIONS if i.keyword == "ARG"]
    secret_like = [name for name in [*env, *args] if SECRET_NAME.search(name)]
    assert secret_like == []
    assert env["DAGSTER_HOME"].startswith("/")


def test_only_the_package_is_copied_and_installed_without_sandbox_or_tests() -> None:
    sources = set()
    for instruction in INSTRUCTIONS:
        if instruction.keyword in {"COPY", "ADD"}:
            assert instruction.keyword == "COPY", "ADD fetches and unpacks: use COPY"
            *copied, _destination = instruction.argument.split()
            sources.update(copied)
    assert sources == {"pyproject.toml", "README.md", "ml_connector_dagster"}
    runs = [i.argument for i in INSTRUCTIONS if i.keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs == ['pip install ".[deploy]"']


def test_the_build_context_filter_lets_in_only_what_is_copied() -> None:
    lines = [
        line
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "ml_connector_dagster"}


def test_the_deploy_extra_pins_the_installed_launchers_of_the_dagster_family() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    deploy = set(extras["deploy"])
    # The tests load the deploy files with the same launchers the image carries.
    assert deploy <= set(extras["test"])
    dagster_pin = next(d for d in project["dependencies"] if d.startswith("dagster=="))
    for requirement in sorted(deploy):
        name, _, version = requirement.partition("==")
        assert importlib.metadata.version(name) == version, requirement
        # Same Dagster release as the product's pin (the family is versioned in lockstep).
        assert dagster_pin in (importlib.metadata.requires(name) or []), requirement
    assert {r.partition("==")[0] for r in deploy} == {"dagster-docker", "dagster-k8s"}
