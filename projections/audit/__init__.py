"""The tamper-evident audit trail: every stored event in one hash chain, verified and signed."""
