"""Use cases of aduan: one method per command, ports for what the outside provides."""
