"""A fake messaging gateway (a WhatsApp BSP, an SMS aggregator): it signs each message it relays
with its channel's shared secret, as docs/inbound.md says, and POSTs it over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

_IDS = itertools.count(1)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


@dataclass
class FakeGateway:
    """Relays complainants' messages to aduan at ``base_url``, one secret per channel."""

    base_url: str
    secrets: dict[str, str]
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def message(
        text: str = "Krim pemutih tanpa izin edar dijual di Pasar Baru, kulit saya iritasi",
        *,
        sender: str = "+6281234567890",
        name: str | None = "Wati",
        **extra: Any,
    ) -> dict[str, Any]:
        """A message as the gateway relays it, with an id of its own."""
        return {
            "message_id": extra.pop("message_id", f"wamid.TEST{next(_IDS):06d}"),
            "timestamp": extra.pop("timestamp", "2026-12-03T09:15:00+07:00"),
            "sender": {"id": sender, **({"name": name} if name else {})},
            "text": text,
            **extra,
        }

    def deliver(
        self,
        channel: str,
        message: dict[str, Any] | bytes,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST one message, signed now (or at ``timestamp``) with the channel's secret (or
        ``secret``); ``headers`` replace the signature's headers."""
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        key = secret if secret is not None else self.secrets.get(channel, "no-secret-here")
        sent = {
            "Content-Type": "application/json",
            "X-Aduan-Timestamp": stamp,
            "X-Aduan-Signature": signature(key, stamp, body),
        }
        if headers is not None:
            sent = {"Content-Type": "application/json", **headers}
        return self.client.post(f"{self.base_url}/v1/inbound/{channel}", content=body, headers=sent)
