"""Subprocess entry points for the fault tests (tests/hardening/test_faults.py)."""
