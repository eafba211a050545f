"""The journals the connector created, observed in F&O: posted by finance yet, and unchanged?

A scheduled job (``observe_posted_journals``, ``ML_CONNECTOR_FO_OBSERVATION_CRON`` in finance's
time zone; or launched from the UI) reads the audit trail for the journals this connection
created, reads their headers back from F&O in batches (``posting/fo_headers.py``) and records,
per pay period x company, on ``dynamics/posted_journals``:

- an ``AssetObservation``: "created in F&O, not posted" / "posted by finance in F&O" (or
  partly posted, or not found), per journal and for the partition, with F&O's totals beside
  what was created;
- an ``unchanged_in_fo`` check result: fails when F&O's totals of a journal no longer equal
  what the connector created (someone edited or deleted it in F&O), naming the Rippling run,
  the Dagster run that created it, the JournalBatchNumber, and created vs now.

It also lists the journals still unposted ``ML_CONNECTOR_ALERT_UNPOSTED_DAYS`` after their pay
date (``FoObservation.unposted``), for the alerts.

The check is also a definition of its own (partitioned like the payroll checks), so the UI lists
it on the asset and can run it for one partition; the payroll job leaves it out
(``jobs.py``): a journal just created is unchanged by definition, and reading it back there
would cost every pay run a request for nothing. Amounts of a journal of one worker are withheld
at the summary detail level, as everywhere else in the UI (``defs/payroll/checks.py``).
"""

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import dagster as dg

from ml_connector_dagster import clock
from ml_connector_dagster.alerts import AlertKind, alert_for_run, enqueue
from ml_connector_dagster.config.mapping import MappingError
from ml_connector_dagster.config.settings import ConnectorSettings, current_settings
from ml_connector_dagster.defs import naming, tables
from ml_connector_dagster.defs.payroll.checks import MIN_WORKERS_PER_ROW, POSTED_KEY, WORKER
from ml_connector_dagster.defs.payroll.partitions import (
    legal_entities,
    pay_periods,
    payroll_partitions,
    single_partition_key,
    split_key,
)
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.defs.run_limits import runtime_tags
from ml_connector_dagster.posting.fo_headers import read_headers
from ml_connector_dagster.posting.fo_observation import (
    JournalObservation,
    ObservedStatus,
    PartitionObservation,
    UnpostedJournal,
    created_journals,
    observe_partitions,
    unposted_too_long,
    wanted_headers,
)

CHECK_NAME = "unchanged_in_fo"
WITHHELD = "(one worker: amounts withheld)"
JOURNAL_COLUMNS = (
    tables.text("run", "the Rippling payroll run"),
    tables.text("type"),
    tables.text("JournalBatchNumber"),
    tables.text("status", "as F&O says now"),
    tables.text("pay date"),
    tables.currency(),
    tables.money("created debit", "what the connector created (audit trail)"),
    tables.money("created credit"),
    tables.money("F&O debit", "F&O's totals of the journal's lines now"),
    tables.money("F&O credit"),
    tables.text("unchanged", "yes: F&O holds what was created"),
    tables.text("created by", "the Dagster run that created it"),
)
CHANGED_COLUMNS = (
    tables.text("run", "the Rippling payroll run"),
    tables.text("JournalBatchNumber"),
    tables.text("created by", "the Dagster run that created it"),
    tables.currency(),
    tables.money("created debit"),
    tables.money("created credit"),
    tables.money("F&O debit"),
    tables.money("F&O credit"),
    tables.text("finding"),
)


@dataclass
class FoObservation:
    """One read-back: every partition with a journal created by the connector."""

    observed_at: dt.datetime
    partitions: list[PartitionObservation]
    unposted: list[UnpostedJournal]  # for the alerts: unposted too long after the pay date
    currencies: dict[str, str] = field(default_factory=dict)  # company -> currency
    worker_detail: bool = False  # the mapping opted in to per-person amounts

    def withheld(self, observation: JournalObservation) -> bool:
        return not self.worker_detail and observation.created.records < MIN_WORKERS_PER_ROW

    def unposted_messages(self) -> list[str]:
        """One line per journal unposted too long, for an alert: the amount left out of a
        journal of one worker at the summary detail level."""
        return [u.describe(show_amount=not _one_worker(self, u)) for u in self.unposted]


def finance_today(settings: ConnectorSettings) -> dt.date:
    """Today in finance's time zone (``ML_CONNECTOR_SCHEDULE_TIMEZONE``): the day the
    "N days after the pay date" is counted to."""
    return clock.now().astimezone(ZoneInfo(settings.schedule_timezone)).date()


def observe_fo(connector: ConnectorResource, partition_key: str | None = None) -> FoObservation:
    """Read the trail and F&O; every created journal (or those of one partition) observed."""
    settings = connector.settings()
    with connector.audit() as audit:
        attempts = [
            row
            for row in audit.attempts()
            if row["connection"] == settings.connection
            and (partition_key is None or row["partition_key"] == partition_key)
        ]
    journals = created_journals(attempts)
    with connector.dynamics() as client:
        headers = read_headers(client, wanted_headers(journals))
    partitions = observe_partitions(journals, headers)
    try:
        mapping = connector.mapping()
        currencies = {le.company: le.currency for le in mapping.legal_entities}
        worker_detail = mapping.journal.detail_level == WORKER
    except MappingError:  # the observation does not need the mapping: amounts stay withheld
        currencies, worker_detail = {}, False
    return FoObservation(
        observed_at=clock.now(),
        partitions=partitions,
        unposted=unposted_too_long(
            partitions, finance_today(settings), settings.alert_unposted_days
        ),
        currencies=currencies,
        worker_detail=worker_detail,
    )


def _amounts(result: FoObservation, obs: JournalObservation) -> tuple:
    if result.withheld(obs):
        return (None, None, None, None)
    c = obs.created
    return (c.total_debit, c.total_credit, obs.fo_debit, obs.fo_credit)


def _journal_rows(result: FoObservation, partition: PartitionObservation) -> list[tuple]:
    rows = []
    for obs in partition.journals:
        c = obs.created
        rows.append(
            (
                c.payroll_run_id,
                c.journal_type,
                obs.batch_numbers,
                obs.status.value,
                obs.pay_date,
                result.currencies.get(c.company.upper(), ""),
                *_amounts(result, obs),
                "yes" if obs.unchanged else "NO",
                c.dagster_run_id,
            )
        )
    return rows


def _change(result: FoObservation, obs: JournalObservation) -> str:
    if not result.withheld(obs) or obs.missing:
        return obs.describe_change()
    c = obs.created
    return (
        f"journal {obs.batch_numbers} of Rippling run {c.payroll_run_id} ({c.journal_type},"
        f" created by Dagster run {c.dagster_run_id or 'unknown'}): F&O's totals differ from"
        f" what was created {WITHHELD}"
    )


def check_evaluation(
    result: FoObservation, partition: PartitionObservation
) -> dg.AssetCheckEvaluation:
    """``unchanged_in_fo`` of one partition, as the observation job records it."""
    passed, description, metadata = _check_parts(result, partition)
    return dg.AssetCheckEvaluation(
        asset_key=POSTED_KEY,
        check_name=CHECK_NAME,
        passed=passed,
        partition=partition.partition_key,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
        blocking=False,
    )


def _check_parts(
    result: FoObservation, partition: PartitionObservation
) -> tuple[bool, str, dict[str, dg.MetadataValue]]:
    changed = partition.changed
    company = split_key(partition.partition_key)[1]
    currency = result.currencies.get(company, "")
    if changed:
        description = (
            f"{len(changed)} journal(s) changed in F&O after the connector created them: "
            + "; ".join(_change(result, obs) for obs in changed)
            + ". Find who changed it in F&O; the audit trail holds what was created."
        )
    else:
        description = (
            f"F&O holds all {len(partition.journals)} journal(s) the connector created, with the"
            f" totals it created ({partition.status.value})"
        )
    details = tables.table(
        CHANGED_COLUMNS,
        (
            (
                obs.created.payroll_run_id,
                obs.batch_numbers,
                obs.created.dagster_run_id,
                currency,
                *_amounts(result, obs),
                _change(result, obs),
            )
            for obs in changed
        ),
    )
    metadata: dict[str, dg.MetadataValue] = {
        "summary": dg.MetadataValue.text(description),
        "changed": dg.MetadataValue.int(len(changed)),
        "details": details,
        "observed_at": dg.MetadataValue.text(result.observed_at.isoformat(timespec="seconds")),
    }
    return not changed, description, metadata


def partition_observation(
    result: FoObservation, partition: PartitionObservation
) -> dg.AssetObservation:
    """What F&O says of one partition's created journals, on ``dynamics/posted_journals``."""
    statuses = [obs.status for obs in partition.journals]
    late = [u for u in result.unposted if u.partition_key == partition.partition_key]
    return dg.AssetObservation(
        asset_key=POSTED_KEY,
        partition=partition.partition_key,
        description=f"read back from F&O: {partition.status.value}",
        metadata={
            "status": dg.MetadataValue.text(partition.status.value),
            "journals_in_fo": tables.table(JOURNAL_COLUMNS, _journal_rows(result, partition)),
            "journals": dg.MetadataValue.int(len(statuses)),
            "posted_by_finance": dg.MetadataValue.int(
                sum(1 for status in statuses if status is ObservedStatus.POSTED)
            ),
            "changed_in_fo": dg.MetadataValue.int(len(partition.changed)),
            "unposted_too_long": dg.MetadataValue.json(
                [u.describe(show_amount=not _one_worker(result, u)) for u in late]
            ),
            "observed_at": dg.MetadataValue.text(result.observed_at.isoformat(timespec="seconds")),
        },
    )


def _one_worker(result: FoObservation, journal: UnpostedJournal) -> bool:
    return not result.worker_detail and journal.records < MIN_WORKERS_PER_ROW


def _known(instance: dg.DagsterInstance, partition_key: str) -> bool:
    pay_period, company = split_key(partition_key)
    return instance.has_dynamic_partition(
        pay_periods.name, pay_period
    ) and instance.has_dynamic_partition(legal_entities.name, company)


@dg.op(
    name=naming.name("observe_posted_journals_in_fo"),
    description="Read back from F&O every journal the connector created: posted by finance or"
    " not, and its totals against what was created.",
)
def observe_posted_journals_in_fo(
    context: dg.OpExecutionContext, connector: ConnectorResource
) -> None:
    result = observe_fo(connector)
    for partition in result.partitions:
        if not _known(context.instance, partition.partition_key):
            context.log.warning(
                f"{partition.partition_key}: journals in the audit trail but no such partition"
                " in this Dagster instance; not recorded"
            )
            continue
        context.log_event(partition_observation(result, partition))
        context.log_event(check_evaluation(result, partition))
    for message in result.unposted_messages():
        context.log.warning(message)
    _alert_unposted(context, connector, result)
    context.log.info(
        f"observed {sum(len(p.journals) for p in result.partitions)} journal(s) in"
        f" {len(result.partitions)} partition(s); {len(result.unposted)} unposted"
        f" {connector.settings().alert_unposted_days}+ days after their pay date"
    )


def _alert_unposted(
    context: dg.OpExecutionContext, connector: ConnectorResource, result: FoObservation
) -> None:
    """An "unposted" alert per journal still not posted N days after its pay date: once per
    journal (the reference is its batch numbers), however many daily read-backs see it. The
    link is to the run that created it; the amount is left out for one worker's journal."""
    settings = connector.settings()
    with connector.audit() as audit:
        for journal, message in zip(result.unposted, result.unposted_messages(), strict=True):
            show = not _one_worker(result, journal)
            enqueue(
                audit,
                alert_for_run(
                    settings,
                    AlertKind.UNPOSTED,
                    run_id=journal.dagster_run_id or context.run.run_id,
                    company=journal.company,
                    pay_period=journal.pay_period,
                    summary=message,
                    amount=journal.total_debit if show else None,
                    currency=result.currencies.get(journal.company) if show else None,
                    reference="unposted:" + ",".join(journal.batch_numbers),
                ),
            )


@dg.job(
    name=naming.name("observe_posted_journals"),
    description="Are the journals the connector created posted by finance, and unchanged in F&O?"
    " Records an observation and the unchanged_in_fo check per pay period x company.",
    tags=runtime_tags(),
)
def observe_posted_journals() -> None:
    observe_posted_journals_in_fo()


@dg.asset_check(
    asset=POSTED_KEY,
    name=CHECK_NAME,
    partitions_def=payroll_partitions,
    blocking=False,
    description="F&O still holds every journal the connector created for the partition, with"
    " the totals it created. Recorded by the observe_posted_journals job (scheduled), or run"
    " here for one partition.",
)
def unchanged_in_fo(
    context: dg.AssetCheckExecutionContext, connector: ConnectorResource
) -> dg.AssetCheckResult:
    key = single_partition_key(context)  # a backfill's run carries a range of one key
    if key is None:
        raise dg.Failure(
            description="unchanged_in_fo runs for one pay period x company; the"
            " observe_posted_journals job runs it for every one"
        )
    result = observe_fo(connector, partition_key=key)
    [partition] = [p for p in result.partitions if p.partition_key == key] or [None]
    if partition is None:
        return dg.AssetCheckResult(
            passed=True,
            description="the connector created no journal in this partition",
            metadata={"changed": 0},
        )
    passed, description, metadata = _check_parts(result, partition)
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


_SETTINGS = current_settings()

fo_observation_schedule = dg.ScheduleDefinition(
    job=observe_posted_journals,
    cron_schedule=_SETTINGS.fo_observation_cron,
    execution_timezone=_SETTINGS.schedule_timezone,  # finance's, like the other schedules
    default_status=dg.DefaultScheduleStatus.RUNNING
    if _SETTINGS.automation_on
    else dg.DefaultScheduleStatus.STOPPED,
)
