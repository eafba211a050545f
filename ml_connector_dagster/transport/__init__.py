"""HTTP pieces both API clients share: one TLS context, retry schedules, safe error text."""
