"""Fake peers on loopback for connector tests."""
