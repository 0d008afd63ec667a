"""Sellers, their users and (later) their scorecard."""
