"""Signed checkpoints of the chain head (Ed25519): kept outside the database, they pin history."""

from __future__ import annotations

import json
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from projections.audit.view import AuditEntry, Checkpoint


def _message(seq: int, head: str, position: int, signed_at: datetime) -> bytes:
    body = {"seq": seq, "head": head, "position": position, "signed_at": signed_at.isoformat()}
    return b"aduan:audit:checkpoint:v1\x00" + json.dumps(body, sort_keys=True).encode()


class CheckpointSigner:
    """Signs chain heads with one Ed25519 key (a 32-byte seed from the settings)."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 signing key is a 32-byte seed")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign(self, entry: AuditEntry, signed_at: datetime) -> Checkpoint:
        signature = self._key.sign(_message(entry.seq, entry.hash, entry.position, signed_at))
        return Checkpoint(
            entry.seq, entry.hash, entry.position, signed_at, self.public_key, signature.hex()
        )


def signature_problem(checkpoint: Checkpoint, trusted_public_key: str) -> str | None:
    """None when ``checkpoint`` was signed by the trusted key, else why it cannot be trusted."""
    if checkpoint.public_key != trusted_public_key:
        return "the checkpoint was not signed with this installation's audit key"
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(checkpoint.public_key))
        key.verify(
            bytes.fromhex(checkpoint.signature),
            _message(checkpoint.seq, checkpoint.head, checkpoint.position, checkpoint.signed_at),
        )
    except (InvalidSignature, ValueError):
        return "the checkpoint's signature does not verify (the file was altered)"
    return None
