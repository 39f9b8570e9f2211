"""Satisfaction surveys: one row per surveyed case, and the IKM reports built from them."""
