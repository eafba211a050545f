"""Nothing in the product starts Dagster runs from a thread.

Dagster reconfigures ``logging`` at every run start; two threads starting runs in one process
deadlock inside ``logging`` (issue 11). Runs are started from the main thread of a process (the
CLI, ``defs/headless.py``) or by Dagster's own daemon and sensors. This check is deliberately
coarse: no product module may both start threads and start runs.
"""

import ast
from pathlib import Path

import ml_connector_dagster

PRODUCT = Path(ml_connector_dagster.__file__).parent
RUN_STARTS = {"materialize", "materialize_to_memory", "execute_in_process", "execute_job"}
THREAD_STARTS = {
    "Thread",
    "ThreadPoolExecutor",
    "ProcessPoolExecutor",  # not a thread, but its callbacks are; refused with the rest
    "run_in_threadpool",
    "to_thread",
    "start_new_thread",
    "run_in_executor",
}


def _called_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                names.add(func.attr)
            elif isinstance(func, ast.Name):
                names.add(func.id)
        elif isinstance(node, ast.Attribute) and node.attr in THREAD_STARTS:
            names.add(node.attr)  # e.g. ``executor=ThreadPoolExecutor`` passed, not called
    return names


def test_no_product_module_both_starts_threads_and_starts_runs() -> None:
    starting_runs = []
    offenders = []
    for path in sorted(PRODUCT.rglob("*.py")):
        names = _called_names(ast.parse(path.read_text(encoding="utf-8")))
        if names & RUN_STARTS:
            starting_runs.append(path.relative_to(PRODUCT).as_posix())
            if names & THREAD_STARTS:
                offenders.append(path.relative_to(PRODUCT).as_posix())
    assert starting_runs, "the check found no run start at all: it is looking in the wrong place"
    assert offenders == []
