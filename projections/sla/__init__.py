"""SLA alerts: each open case's open stages, a timer that raises alerts once, and their outbox."""
