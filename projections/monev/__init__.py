"""Monitoring and evaluation (monev): one facts row per case, and the recaps built from them."""
