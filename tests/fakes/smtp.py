"""An SMTP server on a loopback port (aiosmtpd) that keeps what it receives.

It refuses recipients at ``refused`` addresses (550), and can be stopped and started again on
the same port (connections refused meanwhile).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from tests.support_server import free_port

REFUSED = "ditolak@example.id"


@dataclass
class FakeSmtp:
    port: int = field(default_factory=free_port)
    refused: frozenset[str] = frozenset({REFUSED})
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook names)
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted"

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        with self._lock:
            return list(self.received)

    def start(self) -> FakeSmtp:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
        self._controller = None
