"""Notices to people and webhooks to systems, through a transactional outbox."""
