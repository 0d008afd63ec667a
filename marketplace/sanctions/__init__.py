"""Sanctions: violations and points, staged sanctions that escalate and expire by themselves, appeals, standing."""
