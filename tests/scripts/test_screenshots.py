"""The pure parts of scripts/screenshots.py: the UI's URLs, which scenarios run, which pages.

No browser and no webserver here: ``make screenshots`` is the end-to-end run.
"""

import importlib.util
import os
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

from ml_connector_dagster import clock
from ml_connector_dagster.config.mapping import JournalSpec

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"


@pytest.fixture(scope="module")
def shots():
    spec = importlib.util.spec_from_file_location("screenshots_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module's annotations
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_asset_url_keeps_the_partition_key_whole(shots) -> None:
    key = "GBSI|2026-11-14"
    url = shots.Ui("http://127.0.0.1:1/").asset(
        "ledger/labor_cost_journals", view="partitions", partition=key
    )
    parts = urllib.parse.urlsplit(url)
    assert parts.path == "/assets/ledger/labor_cost_journals"
    assert "|" not in parts.query  # escaped, as the browser would send it
    assert urllib.parse.parse_qs(parts.query) == {"view": ["partitions"], "partition": [key]}


def test_asset_url_selects_a_check_or_an_event_and_leaves_out_what_is_not_asked(shots) -> None:
    ui = shots.Ui("http://h")
    check = urllib.parse.urlsplit(ui.asset("a/b", view="checks", check="fully_mapped")).query
    assert urllib.parse.parse_qs(check) == {"view": ["checks"], "checkDetail": ["fully_mapped"]}
    event = urllib.parse.urlsplit(ui.asset("a/b", view="events", event_time="17")).query
    assert urllib.parse.parse_qs(event) == {"view": ["events"], "time": ["17"]}
    assert "?" not in ui.asset("dynamics/posted_journals")


def test_lineage_url_names_the_code_location_and_group(shots) -> None:
    url = shots.Ui("http://h", "__repository__", "ml_connector_dagster").lineage("payroll")
    assert urllib.parse.urlsplit(url).path == (
        "/locations/__repository__@ml_connector_dagster/asset-groups/payroll/lineage"
    )


def test_launchpad_url_carries_the_run_config_as_yaml(shots) -> None:
    outcome = _outcome(shots, "awaiting_approval")
    url = shots.Ui("http://h").launchpad("approve_journals", shots.approval_config(outcome))
    parts = urllib.parse.urlsplit(url)
    assert parts.path.endswith("/jobs/approve_journals/playground/setup")
    [config] = urllib.parse.parse_qs(parts.query)["config"]
    op = yaml.safe_load(config)["ops"]["record_approval"]["config"]
    assert (op["pay_period"], op["legal_entity"]) == (outcome.pay_period, outcome.company)
    assert op["decision"] == "approved" and op["by"]


def _names(selection) -> list[str]:
    return [scenario.__name__ for scenario in selection.chosen]


def test_approval_scenario_is_skipped_with_a_reason_without_the_field(shots) -> None:
    fields = set(JournalSpec.model_fields) - {"approval"}
    selection = shots.select_scenarios(shots.SCENARIOS, None, fields)
    assert "awaiting_approval" not in _names(selection)
    assert "approval" in selection.skipped["awaiting_approval"]
    assert {"created", "blocked"} <= set(_names(selection))


def test_approval_scenario_runs_once_the_mapping_has_the_field(shots) -> None:
    fields = set(JournalSpec.model_fields) | {"approval"}
    selection = shots.select_scenarios(shots.SCENARIOS, None, fields)
    assert "awaiting_approval" in _names(selection) and not selection.skipped


def test_this_product_version_decides_the_approval_scenario(shots) -> None:
    selection = shots.select_scenarios(shots.SCENARIOS, None, set(JournalSpec.model_fields))
    has_field = "approval" in JournalSpec.model_fields
    assert ("awaiting_approval" in _names(selection)) is has_field


def test_blocked_runs_last_so_the_checks_tab_shows_its_evaluation(shots) -> None:
    assert shots.SCENARIOS[-1].__name__ == "blocked"


def test_only_picks_scenarios_and_refuses_unknown_names(shots) -> None:
    fields = set(JournalSpec.model_fields)
    assert _names(shots.select_scenarios(shots.SCENARIOS, ["blocked"], fields)) == ["blocked"]
    with pytest.raises(SystemExit, match="unknown scenario nope"):
        shots.select_scenarios(shots.SCENARIOS, ["blocked", "nope"], fields)


def _outcome(shots, scenario: str):
    return shots.Outcome(scenario, "GBSI", "2026-11-14", 1, "")


def test_blocked_pages_show_its_partition_checks_and_run(shots) -> None:
    outcome = _outcome(shots, "blocked")
    pages = shots.shots_for(outcome, shots.Ui("http://h"), shots.Facts(run_id="run-1"))
    queries = [urllib.parse.parse_qs(urllib.parse.urlsplit(s.url).query) for s in pages]
    assert {"partition": [outcome.partition], "view": ["partitions"]} in queries
    assert {"view": ["checks"], "checkDetail": ["fully_mapped"]} in queries
    assert any(urllib.parse.urlsplit(s.url).path == "/runs/run-1" for s in pages)
    assert len({s.file for s in pages}) == len(pages)  # no picture overwrites another
    assert all(s.caption.startswith(outcome.partition) for s in pages)
    without_run = shots.shots_for(outcome, shots.Ui("http://h"), shots.Facts())
    assert not any("/runs/" in s.url for s in without_run)


def test_every_picture_of_every_scenario_has_its_own_file(shots) -> None:
    ui, facts = shots.Ui("http://h"), shots.Facts(run_id="run-1", posted_event_time="17")
    files = [s.file for s in shots.overview_shots(ui)]
    for scenario in shots.SCENARIOS:
        pages = shots.shots_for(_outcome(shots, scenario.__name__), ui, facts)
        assert pages, scenario.__name__
        files += [s.file for s in pages]
    assert len(files) == len(set(files))
    assert all(f.endswith(".png") for f in files)


def test_outcome_partition_is_dagsters_key(shots) -> None:
    from ml_connector_dagster.defs.payroll.partitions import partition_key

    outcome = _outcome(shots, "created")
    assert outcome.partition == str(partition_key(outcome.pay_period, outcome.company))


def test_without_chromium_it_says_what_to_install(shots, monkeypatch) -> None:
    monkeypatch.setattr(shots.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="apt-get install -y chromium"):
        shots.find_chromium()


def test_stopping_a_process_ends_its_whole_group(shots, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    processes = shots.Processes()
    child = processes.start(
        [
            "sh",
            "-c",
            f'sleep 300 & echo $! > "{pid_file}.tmp"; mv "{pid_file}.tmp" "{pid_file}"; wait',
        ]
    )
    deadline = time.monotonic() + 30
    while not pid_file.exists():
        assert child.poll() is None, "the child ended before starting its own child"
        assert time.monotonic() < deadline, "the child never started its own child"
        clock.sleep(0.02)
    grandchild = int(pid_file.read_text())
    assert _alive(grandchild)
    processes.stop_all()
    assert child.poll() is not None
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for init to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")


def test_markdown_embeds_each_picture_under_its_caption(shots) -> None:
    pages = shots.shots_for(_outcome(shots, "blocked"), shots.Ui("h"), shots.Facts("run-1"))
    text = shots.markdown(pages, shots.OUT_DIR)
    for page in pages:
        assert f"(docs/screenshots/{page.file})" in text
        assert text.index(page.caption) < text.index(page.file)


def test_waiting_partition_shows_the_posting_assets_event_when_there_is_one(shots) -> None:
    outcome, ui = _outcome(shots, "awaiting_approval"), shots.Ui("http://h")
    with_event = shots.shots_for(outcome, ui, shots.Facts(posted_event_time="1796280059358"))
    queries = [urllib.parse.parse_qs(urllib.parse.urlsplit(s.url).query) for s in with_event]
    assert {"view": ["events"], "time": ["1796280059358"]} in queries
    without = shots.shots_for(outcome, ui, shots.Facts())
    assert len(without) == len(with_event) - 1 and all("time=" not in s.url for s in without)
