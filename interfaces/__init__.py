"""The outside of aduan: HTTP API, CLI, workers, and the one composition root."""
