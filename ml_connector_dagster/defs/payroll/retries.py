"""Which unfinished partitions the pay-run sensor asks for again, and which it leaves alone.

The audit store knows every journal identity whose latest posting attempt did not finish
(``AuditStore.unfinished``). The sensor re-requests a partition only when the cause may be gone,
and never twice for the same attempt, so a permanent problem cannot make it loop:

- **failed** (F&O refused or was unreachable) or **interrupted** (claimed, never finished: the
  process died): asked again once per distinct attempt, at most ``MAX_AUTOMATIC_RETRIES`` times
  per journal identity. A retry that fails again records a new attempt, which may be retried;
  after the last one only ``ml-connector replay`` (an operator) runs it again.
- **blocked by a check**: the same data and mapping would block again, so it is asked again only
  once the mapping file's content changed since the block, once per mapping version. The block's
  baseline is the mapping the sensor saw on the tick *before* it first noticed the block, so a
  fix made between the block and that tick still counts (at worst one extra, harmless retry). A
  Rippling correction needs nothing here: it changes the records and the sensor's normal run
  key. A block whose cause is in F&O (a suspended account, another ledger format) is left to
  ``ml-connector replay``.
- a partition with a run queued or in progress, or before the sensor's "sync from" date, is
  not asked for.
- **waiting for approval** (``journal.approval: required``) is not unfinished at all
  (``AuditStore.unfinished`` leaves ``awaiting-approval`` out): asking again would find the same
  missing approval. Finance's approval is what moves it on, and the sensor asks for the
  partition once per approval (``approval.approval_requests``).

The attempt is told apart by the id of its journal's latest row in the posting trail (with its
outcome and the identity's state): a retry interrupted again before it wrote a row counts as the
same attempt and is not asked for again. The run key carries those ids, so Dagster itself would
also refuse to launch the same retry twice. The bookkeeping lives in the sensor's cursor.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from ml_connector_dagster.audit.store import Outcome, Unfinished
from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.payroll.partitions import PayrollPartition

MAX_AUTOMATIC_RETRIES = 3
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Retry:
    partition: str  # "COMPANY|PAY_PERIOD", as the audit store and Dagster spell it
    run_key: str
    why: str


def _cause(unfinished: Unfinished) -> str | None:
    """Failed, blocked or interrupted; None for an outcome this module does not know (left to
    an operator rather than retried blindly)."""
    if unfinished.last_outcome in (Outcome.BLOCKED_BY_CHECK, Outcome.FAILED):
        return unfinished.last_outcome
    if unfinished.last_outcome.startswith("none recorded"):  # claimed, never finished
        return INTERRUPTED
    return None


def plan_retries(
    unfinished: list[Unfinished],
    latest_attempt: dict[str, int],
    *,
    busy: set[str],
    sync_from: str,
    mapping_hash: str,
    state: dict,
) -> tuple[list[Retry], dict, list[str]]:
    """(retries, the new state for the cursor, notes on what is left to an operator).

    ``latest_attempt``: journal key -> id of its latest posting-trail row (absent: none).
    ``busy``: partitions with a run queued or in progress. ``state``: what the previous tick
    returned (``{}`` at first).
    """
    previous_hash = state.get("mapping_hash") or mapping_hash
    seen: dict[str, dict] = dict(state.get("seen", {}))
    eligible: dict[str, list[tuple[str, str]]] = defaultdict(list)  # partition -> (sig, why)
    notes: list[str] = []
    for item in unfinished:
        try:
            period = PayrollPartition.parse(item.partition_key or "").pay_period
        except ValueError:
            continue  # not a partition of this code location (e.g. a pay period unknown)
        if period < sync_from:
            continue
        if item.partition_key in busy:
            continue
        cause = _cause(item)
        if cause is None:
            continue
        sig = f"{cause}:{latest_attempt.get(item.journal_key, 0)}:{item.state}"
        entry = dict(seen.get(item.journal_key, {"count": 0}))
        if entry.get("sig") != sig:
            entry = {"sig": sig, "count": entry.get("count", 0), "requested": ""}
            if cause == Outcome.BLOCKED_BY_CHECK:
                entry["baseline"] = previous_hash
        if cause == Outcome.BLOCKED_BY_CHECK:
            if mapping_hash != entry["baseline"] and entry["requested"] != mapping_hash:
                entry["requested"] = mapping_hash
                eligible[item.partition_key].append(
                    (f"{sig}@{mapping_hash[:12]}", "blocked; the mapping file changed since")
                )
        elif not entry["requested"]:
            if entry["count"] >= MAX_AUTOMATIC_RETRIES:
                notes.append(
                    f"{item.partition_key}: {cause} again after {entry['count']} automatic"
                    f" retries; `{naming.COMMAND} replay` runs it again"
                )
            else:
                entry["requested"] = "yes"
                entry["count"] += 1
                eligible[item.partition_key].append(
                    (sig, f"{cause} (automatic retry {entry['count']} of {MAX_AUTOMATIC_RETRIES})")
                )
        seen[item.journal_key] = entry
    current = {u.journal_key for u in unfinished}
    new_state = {
        "mapping_hash": mapping_hash,
        "seen": {key: value for key, value in seen.items() if key in current},
    }
    retries = []
    for partition, items in sorted(eligible.items()):
        digest = hashlib.sha256("|".join(sorted(sig for sig, _ in items)).encode()).hexdigest()
        retries.append(
            Retry(
                partition=partition,
                run_key=f"retry:{partition}:{digest[:16]}",
                why="; ".join(sorted({why for _, why in items})),
            )
        )
    return retries, new_state, notes
