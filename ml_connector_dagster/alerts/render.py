"""One message per channel: a Teams card and an e-mail, saying the same five things.

Company, pay period, what happened, the amount and the link to the Dagster run, in that order,
as finance reads them. Values are the connector's own text, shown as they are.
"""

from email.message import EmailMessage
from typing import Any

from dagster_msteams.adaptive_card import AdaptiveCard

from ml_connector_dagster.alerts.model import Alert, format_amount

PRODUCT = "ml-connector"


def facts(alert: Alert) -> list[tuple[str, str]]:
    """The lines every channel shows, label and value, in finance's order."""
    lines = [
        ("Company", alert.company or "(not one company: see the run)"),
        ("Pay period", alert.pay_period or "(not one pay period: see the run)"),
        ("What happened", alert.summary),
    ]
    if alert.amount is not None and alert.currency is not None:
        lines.append(("Amount", format_amount(alert.amount, alert.currency)))
    if alert.run_url:
        lines.append(("Dagster run", alert.run_url))
    return lines


def subject(alert: Alert) -> str:
    where = " ".join(part for part in (alert.company, alert.pay_period) if part)
    return f"[{PRODUCT}] " + (f"{where}: " if where else "") + alert.title


def email_message(alert: Alert, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """A plain-text mail: the subject names kind, company and pay period; the body the facts."""
    message = EmailMessage()
    message["Subject"] = subject(alert)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    width = max(len(label) for label, _ in facts(alert))
    body = [alert.title, ""]
    body += [f"{label + ':':<{width + 1}} {value}" for label, value in facts(alert)]
    body += ["", f"Sent by {PRODUCT} (connection {alert.connection})."]
    message.set_content("\n".join(body) + "\n")
    return message


def teams_payload(alert: Alert) -> dict[str, Any]:
    """The incoming-webhook body: an Adaptive Card (dagster-msteams' ``AdaptiveCard``).

    That message shape (``type: message`` with one Adaptive Card attachment) is what both
    Teams' Workflows webhooks and the older Office 365 connector webhooks accept. The link is
    also an "Open the Dagster run" button.
    """
    card = AdaptiveCard()
    card.add_attachment(f"**{subject(alert)}**")
    for label, value in facts(alert):
        card.add_attachment(f"{label}: {value}")
    payload = card.payload
    if alert.run_url:
        content = payload["attachments"][0]["content"]
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the Dagster run", "url": alert.run_url}
        ]
    return payload
