"""ml-connector-dagster: Rippling payroll and workforce data into the Dynamics 365 F&O ledger."""

__version__ = "0.1.0"
