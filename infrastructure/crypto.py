"""AES-256-GCM envelope encryption of personal data: data keys wrapped by a master-derived key."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain.values import SealedText

NONCE_BYTES = 12
KEY_BYTES = 32
_WRAP_LABEL = b"aduan:reporter-key-wrapping:v1"
_WRAP_AAD = b"aduan:data-key:"


def key_encryption_key(master_secret: str) -> bytes:
    """The key that wraps data keys, derived from ADUAN_MASTER_KEY (or the JWT secret) by HKDF."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_WRAP_LABEL).derive(
        master_secret.encode()
    )


class AesGcmEnvelope:
    """Seals text under a case's data key; wraps data keys under the key-encryption key.

    Every ciphertext has a fresh random 96-bit nonce. A wrapped key is bound to its key id and a
    sealed text to its case and field (associated data), so neither can be moved elsewhere.
    """

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEY_BYTES:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._kek = AESGCM(kek)
        # A create seals several fields under one new key: the cipher is built once for them.
        # One per thread, replaced by the next key (never more than one key kept this way).
        self._last = threading.local()

    def _aead(self, key: bytes) -> AESGCM:
        last = getattr(self._last, "pair", None)
        if last is not None and hmac.compare_digest(last[0], key):
            return last[1]  # type: ignore[no-any-return]
        aead = AESGCM(key)
        self._last.pair = (key, aead)
        return aead

    @classmethod
    def from_master_secret(cls, master_secret: str) -> AesGcmEnvelope:
        return cls(key_encryption_key(master_secret))

    def new_key(self) -> bytes:
        return AESGCM.generate_key(bit_length=256)

    def wrap(self, key_id: UUID, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._kek.encrypt(nonce, key, _WRAP_AAD + key_id.bytes)

    def unwrap(self, key_id: UUID, wrapped: bytes) -> bytes:
        nonce, body = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
        try:
            return self._kek.decrypt(nonce, body, _WRAP_AAD + key_id.bytes)
        except InvalidTag as error:
            raise ValueError(f"key {key_id} was not wrapped by this master key") from error

    def seal(self, key: bytes, key_id: UUID, associated: bytes, text: str) -> SealedText:
        nonce = os.urandom(NONCE_BYTES)
        return SealedText(key_id, nonce, self._aead(key).encrypt(nonce, text.encode(), associated))

    def open(self, key: bytes, sealed: SealedText, associated: bytes) -> str:
        try:
            plain = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, associated)
        except InvalidTag as error:
            raise ValueError("the text does not open with this key and associated data") from error
        return plain.decode()

    def keyed_hash(self, key: bytes, value: str) -> str:
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
