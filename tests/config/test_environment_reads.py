"""Only the settings module reads the process environment."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "ml_connector_dagster"
ALLOWED = {PACKAGE / "config" / "settings.py"}


def _environment_reads(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        reads_attribute = (
            isinstance(node, ast.Attribute)
            and node.attr in {"environ", "getenv", "environb"}
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        )
        imports_name = (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in {"environ", "getenv"} for alias in node.names)
        )
        if reads_attribute or imports_name:
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_settings_reads_os_environ() -> None:
    offenders = {
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in PACKAGE.rglob("*.py")
        if path not in ALLOWED
        for line in _environment_reads(path)
    }
    assert offenders == set()
