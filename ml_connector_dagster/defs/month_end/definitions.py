"""The month-end flow's definitions: what ``definitions.py`` merges with the shared resources."""

import dagster as dg

from ml_connector_dagster.defs.month_end.accrual import accrual_job, month_end_accrual
from ml_connector_dagster.defs.month_end.reconciliation import (
    labor_cost_reconciliation,
    reconciliation_job,
)

defs = dg.Definitions(
    assets=[labor_cost_reconciliation, month_end_accrual],
    jobs=[reconciliation_job, accrual_job],
)
