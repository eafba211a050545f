"""Posting built journals to Dynamics: payloads, parts, and the idempotent poster."""
