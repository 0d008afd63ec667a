"""Compensation: the policy, grants to buyers, recovery from sellers, the ledger and settlement events."""
