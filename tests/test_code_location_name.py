"""One code location name everywhere, and the README's bare `ml-connector` made true.

Dagster keys sensor cursors, schedules' state and run history by code location name: if
`ml-connector-dev` (``dagster dev``), ``workspace.yaml`` (the daemon, the webserver, deploys),
``[tool.dagster]`` / ``[tool.dg]`` and the commands that submit runs (``defs/submit.py``) named
it differently, each would see a location of its own.
"""

import re
import tomllib
from pathlib import Path

from dagster._core.workspace.load_target import WorkspaceFileTarget

from ml_connector_dagster.defs.submit import DEFINITIONS_MODULE, code_location_target
from ml_connector_sandbox.cli import dagster_dev_command, shell_hint

ROOT = Path(__file__).resolve().parent.parent


def _names(origins) -> list[str]:
    return [origin.location_name for origin in origins]


def _dev_workspace() -> Path:
    command = dagster_dev_command(3000)
    assert "-m" not in command[3:], "dagster dev -m names the location after the module"
    return Path(command[command.index("-w") + 1])


def test_every_loader_names_the_code_location_the_same() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    workspace = _names(WorkspaceFileTarget(paths=[str(ROOT / "workspace.yaml")]).create_origins())
    # Every other workspace file of the repository (a deploy's) names it the same too.
    others = {
        str(path.relative_to(ROOT)): _names(WorkspaceFileTarget(paths=[str(path)]).create_origins())
        for path in sorted(ROOT.rglob("workspace.yaml"))
        if not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    }
    dev = _names(WorkspaceFileTarget(paths=[str(_dev_workspace())]).create_origins())
    commands = _names(code_location_target().create_origins())
    names = {
        "workspace.yaml": workspace,
        "ml-connector-dev": dev,
        "ml-connector run/replay/correct": commands,
        "[tool.dagster]": [pyproject["tool"]["dagster"]["code_location_name"]],
        "[tool.dg.project]": [pyproject["tool"]["dg"]["project"]["code_location_name"]],
        **others,
    }
    assert len({tuple(n) for n in names.values()}) == 1, names
    [name] = commands
    assert name == "ml_connector_dagster"
    assert pyproject["tool"]["dagster"]["module_name"] == DEFINITIONS_MODULE


def test_the_readme_gives_the_shell_line_make_demo_prints() -> None:
    readme = (ROOT / "README.md").read_text()
    line = shell_hint(Path(".venv/bin"), Path(".sandbox/sandbox.env"))
    assert line in readme
    # Every command of the README is bare `ml-connector`, which that line makes work; none
    # spells a path to it that the line would contradict.
    assert not re.search(r"\.venv/bin/ml-connector(?![-\w])", readme)
    makefile = (ROOT / "Makefile").read_text()
    assert "$(BIN)/ml-connector-dev" in makefile  # make demo runs the command that prints it
