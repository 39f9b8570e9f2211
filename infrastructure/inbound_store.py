"""The messaging gateways' tables: messages taken in (replay protection), conversations, counts."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.inbound import Pending, Receipt, Thread
from domain.values import SealedText
from infrastructure.readstore import ReadDatabase

MESSAGES = "aduan_inbound_messages"
THREADS = "aduan_inbound_threads"
CHANNELS = "aduan_inbound_channels"
RESULTS = ("filed", "appended", "replayed", "rejected")
PENDING = "pending"

_DDL = (
    # result 'pending' while the message is being taken in (claimed at claimed_at); then the
    # answer's columns are set.
    f"CREATE TABLE IF NOT EXISTS {MESSAGES} (channel TEXT NOT NULL, message_id TEXT NOT NULL, "
    "fingerprint TEXT NOT NULL, case_id UUID, tracking_number TEXT, status TEXT, "
    "result TEXT NOT NULL, pin TEXT, received_at TIMESTAMPTZ NOT NULL, "
    "claimed_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (channel, message_id))",
    f"CREATE INDEX IF NOT EXISTS {MESSAGES}_received ON {MESSAGES} (received_at)",
    f"CREATE TABLE IF NOT EXISTS {THREADS} (key TEXT PRIMARY KEY, case_id UUID NOT NULL, "
    "tracking_number TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {CHANNELS} (channel TEXT PRIMARY KEY, "
    "filed BIGINT NOT NULL DEFAULT 0, appended BIGINT NOT NULL DEFAULT 0, "
    "replayed BIGINT NOT NULL DEFAULT 0, rejected BIGINT NOT NULL DEFAULT 0, "
    "last_accepted_at TIMESTAMPTZ, last_error TEXT, last_error_at TIMESTAMPTZ)",
)


@dataclass(frozen=True)
class ChannelCounts:
    channel: str
    filed: int
    appended: int
    replayed: int
    rejected: int
    last_accepted_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


class SqlInboundStore:
    """``application.inbound.InboundStore`` on the read database (PostgreSQL or SQLite)."""

    def __init__(self, db: ReadDatabase) -> None:
        self.db = db
        with db.transaction() as cursor:
            for statement in _DDL:
                cursor.execute(statement)

    def receipt(self, channel: str, message_id: str) -> Receipt | Pending | None:
        with self.db.transaction() as cursor:
            return self._receipt(cursor, channel, message_id)

    @staticmethod
    def _receipt(cursor: Any, channel: str, message_id: str) -> Receipt | Pending | None:
        cursor.execute(
            "SELECT fingerprint, case_id, tracking_number, status, result, pin "
            f"FROM {MESSAGES} WHERE channel = %s AND message_id = %s",
            (channel, message_id),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        if row[4] == PENDING:
            return Pending(row[0])
        return Receipt(row[0], _uuid(row[1]), row[2], row[3], row[4], _unpack(row[5]))

    def claim(
        self, channel: str, message_id: str, fingerprint: str, at: datetime, stale_before: datetime
    ) -> Receipt | Pending | None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {MESSAGES} (channel, message_id, fingerprint, result, received_at, "
                "claimed_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (channel, message_id, fingerprint, PENDING, at, at),
            )
            if cursor.rowcount == 1:
                return None
            cursor.execute(
                f"UPDATE {MESSAGES} SET claimed_at = %s WHERE channel = %s AND message_id = %s "
                "AND result = %s AND fingerprint = %s AND claimed_at < %s",
                (at, channel, message_id, PENDING, fingerprint, stale_before),
            )
            if cursor.rowcount == 1:
                return None  # its taker died: ours now
            return self._receipt(cursor, channel, message_id)

    def complete(self, channel: str, message_id: str, receipt: Receipt) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"UPDATE {MESSAGES} SET case_id = %s, tracking_number = %s, status = %s, "
                "result = %s, pin = %s WHERE channel = %s AND message_id = %s",
                (
                    receipt.case_id,
                    receipt.tracking_number,
                    receipt.status,
                    receipt.result,
                    _pack(receipt.pin),
                    channel,
                    message_id,
                ),
            )

    def release(self, channel: str, message_id: str) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"DELETE FROM {MESSAGES} WHERE channel = %s AND message_id = %s AND result = %s",
                (channel, message_id, PENDING),
            )

    def thread(self, keys: list[str]) -> Thread | None:
        with self.db.transaction() as cursor:
            condition, params = self.db.any_of("key", keys)
            cursor.execute(
                f"SELECT key, case_id, tracking_number FROM {THREADS} WHERE {condition}", params
            )
            found = {r[0]: Thread(_uuid(r[1]), r[2]) for r in cursor.fetchall()}
        return next((found[key] for key in keys if key in found), None)

    def link(self, keys: list[str], thread: Thread, at: datetime) -> None:
        if not keys:
            return
        with self.db.transaction() as cursor:
            cursor.executemany(
                f"INSERT INTO {THREADS} (key, case_id, tracking_number, updated_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
                "case_id = excluded.case_id, tracking_number = excluded.tracking_number, "
                "updated_at = excluded.updated_at",
                [(key, thread.case_id, thread.tracking_number, at) for key in keys],
            )

    def counted(self, channel: str, result: str, at: datetime, error: str | None = None) -> None:
        if result not in RESULTS:
            raise ValueError(f"no result {result!r}")
        accepted = result in ("filed", "appended")
        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {CHANNELS} (channel) VALUES (%s) ON CONFLICT DO NOTHING",
                (channel,),
            )
            sets = [f"{result} = {result} + 1"]
            params: list[Any] = []
            if accepted:
                sets.append("last_accepted_at = %s")
                params.append(at)
            if error is not None:
                sets += ["last_error = %s", "last_error_at = %s"]
                params += [error, at]
            cursor.execute(
                f"UPDATE {CHANNELS} SET {', '.join(sets)} WHERE channel = %s", (*params, channel)
            )

    def counts(self) -> list[ChannelCounts]:
        """Every channel that ever received a delivery, by name."""
        with self.db.transaction() as cursor:
            cursor.execute(
                "SELECT channel, filed, appended, replayed, rejected, last_accepted_at, "
                f"last_error, last_error_at FROM {CHANNELS} ORDER BY channel"
            )
            rows = cursor.fetchall()
        return [
            ChannelCounts(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]), r[5], r[6], r[7])
            for r in rows
        ]

    def prune(self, before: datetime) -> int:
        """Forget messages taken in before ``before`` (and the PINs kept for their retries)."""
        with self.db.transaction() as cursor:
            cursor.execute(f"DELETE FROM {MESSAGES} WHERE received_at < %s", (before,))
            return int(cursor.rowcount or 0)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _pack(sealed: SealedText | None) -> str | None:
    if sealed is None:
        return None
    nonce, body = (base64.b64encode(v).decode() for v in (sealed.nonce, sealed.ciphertext))
    return f"{sealed.key_id}:{nonce}:{body}"


def _unpack(packed: str | None) -> SealedText | None:
    if packed is None:
        return None
    key_id, nonce, body = packed.split(":")
    return SealedText(UUID(key_id), base64.b64decode(nonce), base64.b64decode(body))
