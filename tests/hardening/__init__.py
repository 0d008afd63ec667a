"""Hardening: fuzzed API, authorization matrix, faults, security settings, load."""
