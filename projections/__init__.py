"""Read models built from the Complaints event log (queues, SLA alerts, audit trail, monev)."""
