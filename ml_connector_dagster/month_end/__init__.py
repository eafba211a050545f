"""Month-end work for finance: the reconciliation of Rippling's register against the posted
ledger (issue 15 part 3) and the accrual of unpaid days (part 2). Reads and assembly live here;
the pure rules live in ``ledger/``."""
