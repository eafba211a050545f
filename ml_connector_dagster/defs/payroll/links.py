"""Links from a partition's metadata to the journal in F&O and the pay run in Rippling.

F&O makes record-level deep links only with its URL Generator (X++, an encrypted data context:
learn.microsoft.com "Create shareable, secured URLs"); from outside, a URL can open a menu item
in a company (``?cmp=USMF&mi=...``). So the F&O link opens the company's general journals
(menu item ``LedgerJournalTable5``: we have not verified it against a live environment, hence a
setting, ``ML_CONNECTOR_FO_JOURNAL_URL``) and the metadata names the JournalBatchNumber to pick.
Rippling publishes no URL of a pay run's page, so its link is off until
``ML_CONNECTOR_RIPPLING_PAY_RUN_URL`` gives one (e.g. copied from the browser with ``{run_id}``).
"""

from urllib.parse import quote

import dagster as dg

# The templates come from ``ConnectorSettings`` (``fo_journal_url``, ``rippling_pay_run_url``),
# which refuses a placeholder these functions do not fill.


def fo_journal_url(template: str, environment_url: str, company: str, journal: str) -> str:
    """The F&O link of ``journal`` (a JournalBatchNumber) in ``company``; "" without a template."""
    if not template:
        return ""
    return template.format(
        environment=environment_url.rstrip("/"),
        company=quote(company, safe=""),
        journal=quote(journal, safe=""),
    )


def rippling_run_url(template: str, run_id: str) -> str:
    """The Rippling link of a pay run; "" without a template."""
    return template.format(run_id=quote(run_id, safe="")) if template else ""


def link_metadata(links: dict[str, str], limit: int = 20) -> dict[str, dg.MetadataValue]:
    """``links`` (label -> URL) as clickable metadata; empty URLs left out, at most ``limit``."""
    shown = [(label, url) for label, url in links.items() if url][:limit]
    return {label: dg.MetadataValue.url(url) for label, url in shown}
