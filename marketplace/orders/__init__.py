"""Buyers, orders and the order events that the marketplace sends."""
