"""Fixtures for notifications: orders (from the claims tests) and notification settings."""

from __future__ import annotations

from tests.claims.conftest import make_order  # noqa: F401 - a fixture shared with the claims tests
