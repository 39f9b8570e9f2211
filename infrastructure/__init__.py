"""Adapters: settings, persistence, calendars, policies, units, tokens, clocks."""
