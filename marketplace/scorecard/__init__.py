"""Seller scorecard: quality indices per seller and category over 7, 30 and 90 days, a grade, and daily snapshots."""
