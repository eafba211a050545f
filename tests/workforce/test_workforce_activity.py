"""v1 company_activity as an optional witness: the probe ``ping`` shows, the never-raising read
polling uses, the poll cursor that remembers its error, and the safety-net cadence (pure)."""

import datetime as dt

import pytest
from workforce.conftest import V1_SCOPES

from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_dagster.workforce.activity import (
    activity_employee_ids,
    probe_company_activity,
    read_activity,
)
from ml_connector_dagster.workforce.cadence import SAFETY_NET_INTERVAL, safety_net_decision
from ml_connector_dagster.workforce.triggers import PollCursor
from ml_connector_sandbox.rippling.employees import employee_id_for
from ml_connector_sandbox.server import Sandbox

NOW = dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC)  # the sandbox company's as-of instant


def test_the_probe_says_a_refusal_is_an_answer_not_an_error(rippling: RipplingClient) -> None:
    probe = probe_company_activity(rippling, now=NOW)
    assert (probe.answers, probe.employee_events) == (False, False)
    assert "'company' and 'company:activity'" in probe.detail


def test_the_probe_finds_employee_events_in_one_request(
    fresh_sandbox: Sandbox, rippling: RipplingClient, admin
) -> None:
    admin.grant(*V1_SCOPES)
    probe = probe_company_activity(rippling, now=NOW)
    assert probe.answers and probe.employee_events and "EMPLOYEE_" in probe.detail
    assert rippling.requests_sent == 1  # one page, whatever the window holds


def test_the_probe_tells_a_feed_without_employee_events(
    fresh_sandbox: Sandbox, rippling: RipplingClient, admin
) -> None:
    admin.grant(*V1_SCOPES)
    quiet = probe_company_activity(rippling, now=NOW + dt.timedelta(days=30))
    assert quiet.answers and not quiet.employee_events
    assert "none of the employee types" in quiet.detail


def test_read_activity_names_employee_ids_and_drops_a_refused_cursor(
    fresh_sandbox: Sandbox, rippling: RipplingClient, admin
) -> None:
    admin.grant(*V1_SCOPES)
    worker = next(
        w for w in fresh_sandbox.company["rippling"]["workers"] if w["status"] == "ACTIVE"
    )
    read = read_activity(rippling, None, start=NOW - dt.timedelta(days=1))
    assert read.error is None and read.cursor
    caught_up = read_activity(rippling, read.cursor, start=NOW)
    assert caught_up.employee_ids == [] and caught_up.cursor
    admin.update(worker["id"], title="Witnessed")
    changed = read_activity(rippling, caught_up.cursor, start=NOW)
    assert changed.employee_ids == [employee_id_for(worker["id"])]  # not the worker id
    refused = read_activity(rippling, "not-a-cursor", start=NOW)
    assert refused.error and refused.cursor is None  # the next poll starts from a date


def test_activity_ids_are_the_role_subjects_of_employee_events_only() -> None:
    events = [
        {"event_type": "EMPLOYEE_UPDATED", "subjects": [{"instance": "e1", "type": "ROLE"}]},
        {"event_type": "EMPLOYEE_HIRED", "subjects": [{"instance": "e1", "type": "ROLE"}]},
        {"event_type": "EXTERNAL_GROUP_ADD", "subjects": [{"instance": "e2", "type": "ROLE"}]},
        {"event_type": "EMPLOYEE_TERMINATED", "subjects": [{"instance": "g", "type": "GROUP"}]},
    ]
    assert activity_employee_ids(events) == ["e1"]


def test_the_poll_cursor_remembers_the_activity_error_and_reads_older_cursors() -> None:
    cursor = PollCursor(NOW, "c1", "refused")
    assert PollCursor.from_json(cursor.to_json()) == cursor
    older = '{"updated_watermark": "2026-11-20T18:00:00+00:00", "activity_cursor": "c1"}'
    assert PollCursor.from_json(older) == PollCursor(NOW, "c1", None)


def test_the_safety_net_cadence_is_fixed_and_says_why() -> None:
    decision = safety_net_decision()
    assert decision.interval == SAFETY_NET_INTERVAL == dt.timedelta(hours=6)
    assert decision.safety_net and not decision.calendar_unreadable
    assert "webhooks" in decision.reason
    with pytest.raises(ValueError):
        safety_net_decision(dt.timedelta(0))
