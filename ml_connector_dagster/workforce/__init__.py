"""Workforce sync: Rippling (system of record) workers to Dynamics Workers, employments, vendors.

The sync is desired state (``desired``, from Rippling) against current state (``current``,
read from Dynamics), planned by a pure function (``plan``) and applied action by action
(``apply``). Triggers (webhook inbox, polling) only choose which workers to re-read
(``triggers``); every path ends in ``sync.sync_workers``.
"""
