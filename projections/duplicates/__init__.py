"""Likely duplicates of a case, and which cases were closed as duplicates of which."""
