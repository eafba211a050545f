"""Workforce alignment in Dagster: the plan and sync assets, their triggers and schedule."""
