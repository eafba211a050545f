"""The pay-run sensor asks again for partitions whose last posting attempt did not finish,
when the cause may be gone, once per attempt, and never loops on a permanent block.

Real sensor evaluations (``build_sensor_context`` with a real instance and the sandbox), the
audit store written as the poster writes it; each test starts from a first tick whose normal
requests it takes as done, and looks only at what later ticks add.
"""

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.test_utils import create_run_for_test
from pipeline_support import resources

from ml_connector_dagster.audit.store import AuditStore, Outcome
from ml_connector_dagster.defs.payroll.retries import MAX_AUTOMATIC_RETRIES
from ml_connector_dagster.defs.payroll.sensors import pay_run_sensor
from ml_connector_sandbox.mapping import write_sandbox_mapping
from ml_connector_sandbox.server import Sandbox


@pytest.fixture
def env(fresh_sandbox: Sandbox, sandbox_env, tmp_path: Path, monkeypatch) -> dict:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    mapping = write_sandbox_mapping(fresh_sandbox.company, tmp_path / "mapping.yaml")
    res = resources(tmp_path, mapping)
    store = AuditStore(res["connector"].audit_url)
    yield {"mapping": mapping, "resources": res, "store": store}
    store.dispose()


class Ticks:
    """Successive evaluations of the sensor, each with the cursor the previous one returned."""

    def __init__(self, instance: dg.DagsterInstance, res: dict) -> None:
        self.instance, self.res, self.cursor = instance, res, None

    def __call__(self):
        context = dg.build_sensor_context(
            instance=self.instance, resources=self.res, cursor=self.cursor
        )
        result = pay_run_sensor(context)
        self.cursor = result.cursor if isinstance(result, dg.SensorResult) else context.cursor
        return result


def _retries(result) -> list[dg.RunRequest]:
    if isinstance(result, dg.SkipReason):
        return []
    return [r for r in result.run_requests if (r.run_key or "").startswith("retry:")]


def _first_partition(result) -> str:
    """A partition the first tick requested (so it is on or after the sensor's sync date)."""
    assert isinstance(result, dg.SensorResult) and result.run_requests
    keys = sorted(str(r.partition_key) for r in result.run_requests)
    return next((k for k in keys if k.startswith("USMF|")), keys[0])


def _attempt(store: AuditStore, partition: str, outcome: str, key: str = "k" * 16) -> int:
    company, _, period = partition.partition("|")
    return store.record_attempt(
        connection="default",
        dagster_run_id="0" * 36,
        partition_key=partition,
        journal_key=key,
        payroll_run_id="run-1",
        company=company,
        journal_type="settlement",
        pay_period=period,
        outcome=outcome,
        dynamics_answer="Dynamics POST /data/$batch answered 503" if outcome == "failed" else "x",
    )


def test_a_failed_attempt_is_asked_for_again_once_per_attempt_up_to_a_limit(env) -> None:
    with dg.instance_for_test() as instance:
        tick = Ticks(instance, env["resources"])
        partition = _first_partition(tick())
        _attempt(env["store"], partition, Outcome.FAILED)
        [retry] = _retries(second := tick())
        assert str(retry.partition_key) == partition
        assert retry.tags["ml_connector/retry"].startswith("failed (automatic retry 1 of")
        assert isinstance(second, dg.SensorResult)
        # The same unfinished attempt is not asked for again.
        again = tick()
        assert isinstance(again, dg.SkipReason), again
        assert _retries(tick()) == []
        # Each new failed attempt (the retry failed again) is, up to the limit.
        run_keys = {retry.run_key}
        for number in range(2, MAX_AUTOMATIC_RETRIES + 1):
            _attempt(env["store"], partition, Outcome.FAILED)
            [retry] = _retries(tick())
            assert retry.tags["ml_connector/retry"].startswith(f"failed (automatic retry {number}")
            run_keys.add(retry.run_key)
        assert len(run_keys) == MAX_AUTOMATIC_RETRIES
        _attempt(env["store"], partition, Outcome.FAILED)
        left = tick()
        assert isinstance(left, dg.SkipReason)
        assert partition in (left.skip_message or "") and "ml-connector replay" in left.skip_message


def test_an_interrupted_identity_is_asked_for_unless_a_run_of_it_is_in_progress(env) -> None:
    with dg.instance_for_test() as instance:
        tick = Ticks(instance, env["resources"])
        partition = _first_partition(tick())
        company, _, period = partition.partition("|")
        env["store"].claim_identity(
            journal_key="i" * 16,
            connection="default",
            payroll_run_id="run-9",
            company=company,
            journal_type="settlement",
            pay_period=period,
            payload_hash="h",
        )
        running = create_run_for_test(
            instance, status=dg.DagsterRunStatus.STARTED, tags={"dagster/partition": partition}
        )
        assert _retries(tick()) == []  # its run may still finish it
        instance.report_run_failed(running, "killed")
        [retry] = _retries(tick())
        assert str(retry.partition_key) == partition
        assert retry.tags["ml_connector/retry"].startswith("interrupted")
        assert _retries(tick()) == []


def test_a_block_is_asked_for_again_only_once_the_mapping_changed(env) -> None:
    with dg.instance_for_test() as instance:
        tick = Ticks(instance, env["resources"])
        partition = _first_partition(tick())
        _attempt(env["store"], partition, Outcome.BLOCKED_BY_CHECK, key="b" * 16)
        for _ in range(3):  # the same mapping would block again: never asked for
            result = tick()
            assert _retries(result) == []
            assert isinstance(result, dg.SkipReason)
        data = yaml.safe_load(env["mapping"].read_text())
        data["journal"]["name"] = "GENERAL"  # finance fixed the mapping
        env["mapping"].write_text(yaml.safe_dump(data, sort_keys=False))
        [retry] = _retries(tick())
        assert str(retry.partition_key) == partition
        assert "mapping file changed" in retry.tags["ml_connector/retry"]
        assert _retries(tick()) == []  # once per mapping version
