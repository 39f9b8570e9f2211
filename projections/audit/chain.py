"""The hash chain: canonical bytes of a stored event, and how each entry links to the last."""

from __future__ import annotations

import hashlib
import struct
from uuid import UUID

GENESIS = "0" * 64  # the prev_hash of the first entry
_DOMAIN = b"aduan:audit:event:v1\x00"
_COUNTS = struct.Struct(">QQI")  # position, originator_version, topic length
_SEQ = struct.Struct(">Q")


def canonical_bytes(
    position: int, originator_id: UUID, originator_version: int, topic: str, state: bytes
) -> bytes:
    """One unambiguous byte string per stored event: fixed-width numbers, length-prefixed text."""
    encoded_topic = topic.encode()
    return b"".join(
        (
            _DOMAIN,
            _COUNTS.pack(position, originator_version, len(encoded_topic)),
            originator_id.bytes,
            encoded_topic,
            struct.pack(">Q", len(state)),
            state,
        )
    )


def event_hash(
    position: int, originator_id: UUID, originator_version: int, topic: str, state: bytes
) -> str:
    """sha256 of the stored event's canonical bytes, in hex."""
    return hashlib.sha256(
        canonical_bytes(position, originator_id, originator_version, topic, state)
    ).hexdigest()


def chain_hash(prev_hash: str, event_digest: str, seq: int) -> str:
    """sha256(prev_hash || event_hash || seq): each entry's hash covers all before it."""
    return hashlib.sha256(
        bytes.fromhex(prev_hash) + bytes.fromhex(event_digest) + _SEQ.pack(seq)
    ).hexdigest()
