"""The SP4N-LAPOR! outbox: outbound messages derived from case events."""
