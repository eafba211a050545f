"""What finance reads: one message per channel with company, period, what, amount and link."""

from decimal import Decimal

import pytest
from alert_support import blocked_alert

from ml_connector_dagster.alerts import AlertError, AlertKind, run_link
from ml_connector_dagster.alerts.model import TITLES, format_amount
from ml_connector_dagster.alerts.render import email_message, teams_payload


@pytest.mark.parametrize(
    "amount,currency,shown",
    [
        (Decimal("175772.44"), "USD", "175,772.44 USD"),
        (Decimal("1234567"), "EUR", "1,234,567.00 EUR"),
        (Decimal("-0.5"), "GBP", "-0.50 GBP"),
        (Decimal("1000.125"), "USD", "1,000.125 USD"),  # nothing rounded away
    ],
)
def test_amounts_have_separators_and_currency(amount: Decimal, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"amount": 175772.44}, "amount"),  # a float is refused, never formatted
        ({"currency": None}, "currency"),  # an amount without its currency
        ({"company": "US|MF"}, "company"),
        ({"pay_period": "Nov 2026"}, "pay_period"),
        ({"summary": "  "}, "summary"),
        ({"reference": ""}, "reference"),
    ],
)
def test_a_bad_alert_is_refused_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(AlertError, match=field):
        blocked_alert(**changes)


def test_every_kind_has_a_title_and_a_distinct_dedupe_key() -> None:
    keys = {blocked_alert(kind=kind).dedupe_key for kind in AlertKind}
    assert len(keys) == len(AlertKind) == len(TITLES) == 5
    assert blocked_alert().dedupe_key == blocked_alert(summary="said otherwise").dedupe_key
    assert blocked_alert().dedupe_key != blocked_alert(reference="run-other").dedupe_key


def test_a_summary_is_one_line() -> None:
    assert blocked_alert(summary="two\nlines   here").summary == "two lines here"


def test_the_run_link_is_the_base_url_and_the_run_page() -> None:
    assert run_link("https://dagster.acme.test/", "abc-1") == "https://dagster.acme.test/runs/abc-1"


def _say_the_five_things(text: str) -> None:
    for expected in ("USMF", "2026-11-15", "D110 is not in mapping.yaml", "175,772.44 USD"):
        assert expected in text
    assert "https://dagster.acme.test/runs/run-7f3a" in text
    assert "175772.44" not in text  # the unformatted number never shows


def test_the_email_says_company_period_what_amount_and_link() -> None:
    alert = blocked_alert()
    mail = email_message(alert, "connector@acme.test", ("finance@acme.test", "ops@acme.test"))
    assert "USMF" in mail["Subject"] and "2026-11-15" in mail["Subject"]
    assert "nothing was written to Dynamics" in mail["Subject"]
    assert mail["To"] == "finance@acme.test, ops@acme.test"
    assert mail.get_content_type() == "text/plain"
    _say_the_five_things(mail.get_content())


def test_the_teams_card_says_the_same_and_links_the_run() -> None:
    payload = teams_payload(blocked_alert())
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    _say_the_five_things("\n".join(block["text"] for block in content["body"]))
    assert content["actions"][0]["url"] == "https://dagster.acme.test/runs/run-7f3a"


def test_an_alert_without_amount_or_partition_still_reads() -> None:
    alert = blocked_alert(
        kind=AlertKind.RUN_FAILED, amount=None, currency=None, company=None, pay_period=None
    )
    body = email_message(alert, "a@acme.test", ("b@acme.test",)).get_content()
    assert "Amount" not in body and "(not one company: see the run)" in body
