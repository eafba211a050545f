"""The append-only audit trail and the connector's own durable state (SQLAlchemy)."""
