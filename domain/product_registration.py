"""BPOM product registration numbers (nomor izin edar / notifikasi), normalised for matching.

People write the same number many ways: ``NA18201200123``, ``na 1820 1200 123``, ``BPOM RI MD
224510001234``, ``MD-224510001234``, ``POM TR 123456789``, ``TR123456789``. The normal form is
upper case, letters and digits only, without the leading ``BPOM RI`` / ``BPOM`` / ``POM`` the
labels print in front of the number itself, so all of those agree with their bare forms.
"""

from __future__ import annotations

import re

from domain.errors import InvalidCommand

FIELD = "product_registration"
MAX_LENGTH = 64
_PREFIXES = ("BPOMRI", "BPOM", "POM")
_ALLOWED = re.compile(r"^[A-Za-z0-9 .\-/]+$")
_NORMAL = re.compile(r"^[A-Z]{0,6}[0-9][A-Z0-9]{3,29}$")


def normalised_registration(raw: str | None) -> str | None:
    """The normal form of a registration number; None for none; InvalidCommand if malformed."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > MAX_LENGTH or not _ALLOWED.match(raw):
        raise InvalidCommand(FIELD, "letters, digits, spaces, dots, hyphens and slashes only")
    compact = re.sub(r"[^A-Z0-9]", "", raw.upper())
    for prefix in _PREFIXES:
        if compact.startswith(prefix) and len(compact) > len(prefix) + 3:
            compact = compact[len(prefix) :]
            break
    if not _NORMAL.match(compact):
        raise InvalidCommand(
            FIELD, "not a registration number (e.g. NA18201200123, MD 224510001234)"
        )
    return compact
