"""What happened to a journal, in the words F&O users use.

A journal the connector created stays "created, not posted" until finance posts it in F&O
(``IsPosted``); "posted" is never said of a journal F&O has not posted. A partition's status is
its worst journal's: one blocked journal makes the pay period x company blocked.

"waiting for approval" (``journal.approval: required``, no approval bound to this content) is
neither a success nor a failure: nothing was written, nothing is broken, and the run that found
it ends well (the posting step observes the partition instead of materializing it, and the
sensor does not retry it); finance's approval is what moves it on.
"""

from collections.abc import Iterable
from enum import StrEnum

from ml_connector_dagster.audit.store import Outcome
from ml_connector_dagster.posting.poster import PostResult


class JournalStatus(StrEnum):
    CREATED = "created in F&O, not posted"
    PRESENT = "already in F&O, not posted"
    POSTED_BY_FINANCE = "posted by finance in F&O"
    NOTHING_TO_POST = "nothing to post"
    CHANGED = "Rippling changed after the journal was created"
    BLOCKED = "blocked by a check"
    AWAITING_APPROVAL = "waiting for approval"
    FAILED = "failed"

    @property
    def is_success(self) -> bool:
        return self in SUCCESS

    @property
    def is_waiting(self) -> bool:
        """Not a success and not a failure: the partition waits for finance's approval."""
        return self is JournalStatus.AWAITING_APPROVAL


SUCCESS = frozenset(
    {
        JournalStatus.CREATED,
        JournalStatus.PRESENT,
        JournalStatus.POSTED_BY_FINANCE,
        JournalStatus.NOTHING_TO_POST,
    }
)
# Worst first: a partition takes the status of its worst journal.
SEVERITY = (
    JournalStatus.FAILED,
    JournalStatus.BLOCKED,
    JournalStatus.CHANGED,
    JournalStatus.AWAITING_APPROVAL,
    JournalStatus.CREATED,
    JournalStatus.PRESENT,
    JournalStatus.POSTED_BY_FINANCE,
    JournalStatus.NOTHING_TO_POST,
)


def journal_status(result: PostResult) -> JournalStatus:
    if result.outcome == Outcome.FAILED:
        return JournalStatus.FAILED
    if result.outcome == Outcome.BLOCKED_BY_CHECK:
        return JournalStatus.BLOCKED
    if result.outcome == Outcome.CHANGED_AFTER_POSTING:
        return JournalStatus.CHANGED
    if result.outcome == Outcome.AWAITING_APPROVAL:
        return JournalStatus.AWAITING_APPROVAL
    if result.outcome == Outcome.CREATED:
        return JournalStatus.CREATED
    if not result.parts:
        return JournalStatus.NOTHING_TO_POST
    if all(part.action == "skipped-posted" for part in result.parts):
        return JournalStatus.POSTED_BY_FINANCE
    return JournalStatus.PRESENT


def partition_status(results: Iterable[PostResult]) -> JournalStatus:
    statuses = {journal_status(r) for r in results}
    return next((s for s in SEVERITY if s in statuses), JournalStatus.NOTHING_TO_POST)
