"""The email outbox: acknowledgement emails derived from case events."""
