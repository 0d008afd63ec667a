"""Fixtures for the scorecard: the order events fixtures, to build histories from real events."""

from tests.orders.conftest import events_key, post_events

__all__ = ["events_key", "post_events"]
