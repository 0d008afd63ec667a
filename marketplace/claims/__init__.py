"""Claims: opened by events, filed by buyers, followed up by the scheduler."""
