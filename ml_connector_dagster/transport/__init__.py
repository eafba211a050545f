"""HTTP pieces both API clients share: one TLS context, the bearer auth flow, retry decisions
and schedules, the one send loop, exact-decimal JSON."""
