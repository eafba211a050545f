"""Why a Dagster step failed, in the words of the exception that caused it.

Dagster wraps whatever a step raises in ``DagsterExecutionStepExecutionError: Error occurred
while executing op ...``; the useful text (the record and field, the mapping file, line and
key, the credentials store to restore) is the cause underneath. A table cell has room for one
message, so this picks the innermost meaningful one from the STEP_FAILURE event's
``SerializableErrorInfo`` chain:

- a ``dg.Failure`` keeps its description: those are the connector's own words already;
- Dagster's own wrappers are skipped;
- the innermost error raised by the connector wins (it is the most specific of its own
  messages; one it raised ``from`` a library error keeps its words over the library's);
- with none of the connector's, the innermost other error, shown with its short class name.

Every line of the message is kept: a mapping error lists one problem per line. Messages come
from the connector's exceptions, which never carry secrets.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Dagster is imported by the commands that run something, not at start-up.
    import dagster as dg

PROJECT_PACKAGE = "ml_connector_dagster."


def _chain(error: Any) -> list[Any]:
    """``error`` and its causes, outermost first (``SerializableErrorInfo.cause`` links)."""
    chain = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = error.cause
    return chain


def _qualified_name(error: Any) -> str:
    """``module.Class`` as the message starts (``format_exception_only``), else the class name."""
    head = str(error.message or "").split(":", 1)[0].strip()
    if head.endswith(str(error.cls_name or "")) and " " not in head:
        return head
    return str(error.cls_name or "")


def _is_dagster(error: Any) -> bool:
    return _qualified_name(error).startswith("dagster.") or str(error.cls_name or "") in (
        "DagsterExecutionStepExecutionError",
        "DagsterUserCodeExecutionError",
    )


def _text(error: Any, *, with_class: bool) -> str:
    """The message without the ``module.Class:`` prefix (with the short class if asked)."""
    message = str(error.message or "").strip()
    qualified = _qualified_name(error)
    if qualified and message.startswith(qualified + ":"):
        message = message[len(qualified) + 1 :].strip()
    elif qualified and message == qualified:
        message = ""
    if with_class:
        return f"{error.cls_name}: {message}" if message else str(error.cls_name)
    return message or str(error.cls_name)


def root_cause(error: Any) -> str:
    """The innermost meaningful message of a ``SerializableErrorInfo`` chain (see module)."""
    chain = _chain(error)
    if not chain:
        return ""
    own = [e for e in chain if _qualified_name(e).startswith(PROJECT_PACKAGE)]
    if own:
        return _text(own[-1], with_class=False)
    others = [e for e in chain if not _is_dagster(e)]
    return _text((others or chain)[-1], with_class=True)


def step_failure_messages(events: Iterable["dg.DagsterEvent"]) -> list[str]:
    """One message per failed step: a ``dg.Failure``'s description, else ``root_cause``."""
    messages = []
    for event in events:
        if not event.is_step_failure or not event.step_failure_data:
            continue
        data = event.step_failure_data
        if data.user_failure_data and data.user_failure_data.description:
            messages.append(str(data.user_failure_data.description))
        elif data.error is not None:
            messages.append(root_cause(data.error))
    return [m for m in messages if m]


def run_failure_messages(instance: "dg.DagsterInstance", run_id: str) -> list[str]:
    """``step_failure_messages`` of a finished run, read back from the instance's event log."""
    import dagster as dg

    entries = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    return step_failure_messages(e.dagster_event for e in entries if e.dagster_event)
