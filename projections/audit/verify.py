"""Verifying the chain against the event store: recompute every hash, compare every event.

Both sides are streamed in batches, side by side. Whatever was changed (the event store, the
trail, or an export file), the first entry where they part is reported with a reason.
"""

from __future__ import annotations

import hashlib
import queue
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from projections.audit.chain import _DOMAIN, GENESIS, chain_hash
from projections.audit.checkpoints import signature_problem
from projections.audit.projection import digest_of, facts_of, json_facts
from projections.audit.view import AuditEntry, AuditView, Checkpoint, all_entries
from projections.runner import EventLog, LoggedEvent


@dataclass(frozen=True)
class Verification:
    """``entries`` and ``head``: how many entries were found good, and the last good hash."""

    ok: bool
    entries: int
    head: str
    position: int = 0
    first_bad_seq: int | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "position": self.position,
        }
        if not self.ok:
            body |= {"seq": self.first_bad_seq, "first_bad_seq": self.first_bad_seq}
            body["reason"] = self.reason
        return body


def stored_events(log: EventLog, batch_size: int = 5000) -> Iterator[LoggedEvent]:
    after = 0
    while True:
        batch = log.read(after, batch_size)
        yield from batch
        if not batch:
            return
        after = batch[-1].position


def _link_problem(entry: AuditEntry, expected: int, prev: str, position: int) -> str | None:
    """The chain's own integrity: gapless seq, each prev_hash the last hash, the hash recomputed."""
    if entry.seq != expected:
        return (
            f"the trail has seq {entry.seq} where seq {expected} belongs "
            "(entry removed, inserted or moved in the trail)"
        )
    if entry.prev_hash != prev:
        return "prev_hash does not link to the entry before (trail altered)"
    if chain_hash(prev, entry.event_hash, entry.seq) != entry.hash:
        return "the entry's hash does not match its contents (trail altered)"
    if entry.position <= position:
        return "positions do not increase along the trail (trail altered)"
    return None


def verify_chain(
    entries: Iterable[AuditEntry], log: EventLog, batch_size: int = 5000
) -> Verification:
    """Check ``entries`` (the trail, or an export) link up and match the event store one by one.

    Events stored after the last entry are not the trail's yet (it catches up asynchronously).
    """
    store = stored_events(log, batch_size)
    good, head, position = 0, GENESIS, 0
    for entry in entries:
        problem = _link_problem(entry, good + 1, head, position) or _compare(
            entry, next(store, None)
        )
        if problem is not None:
            return Verification(False, good, head, position, good + 1, problem)
        good, head, position = entry.seq, entry.hash, entry.position
    return Verification(True, good, head, position)


def _compare(entry: AuditEntry, event: LoggedEvent | None) -> str | None:
    if event is None or event.position > entry.position:
        return f"the event at position {entry.position} is missing from the event store (removed)"
    if event.position < entry.position:
        return (
            f"the event store has an event at position {event.position} that the trail does not "
            "(inserted)"
        )
    if digest_of(event) != entry.event_hash:
        return (
            f"the stored event at position {event.position} is not the one the trail recorded "
            "(altered or reordered)"
        )
    if entry.originator_id != event.originator_id or entry.version != event.originator_version:
        return "the entry's originator or version does not match the stored event (trail altered)"
    facts = facts_of(event)
    recorded = (
        entry.complaint_id,
        entry.type,
        entry.recorded_at,
        entry.actor_sub,
        entry.actor_unit,
    )
    derived = (facts.complaint_id, facts.type, facts.recorded_at, facts.actor_sub, facts.actor_unit)
    if recorded != derived:
        return (
            "the entry's case, type, time or actor does not match the stored event (trail altered)"
        )
    return None


def verify_view(view: AuditView, log: EventLog, batch_size: int = 5000) -> Verification:
    """The database's trail against the event store.

    Where both sides can be read as plain tuples (PostgreSQL), ``verify_tuples`` does it with
    the same result, several times faster; otherwise ``verify_chain``.
    """
    entry_tuples = getattr(view, "entry_tuples", None)
    read_tuples = getattr(log, "read_tuples", None)
    if entry_tuples is not None and read_tuples is not None:
        first = entry_tuples(0, batch_size)
        if first is not None:
            return verify_tuples(first, entry_tuples, read_tuples, log, batch_size)
    return verify_chain(all_entries(view, batch_size), log, batch_size)


# --- the fast path: tuples, hashes carried as bytes, the stored events read ahead -----------

_SEQ = struct.Struct(">Q")
_COUNTS = struct.Struct(">QQI")
_LENGTH = struct.Struct(">Q")
_sha256 = hashlib.sha256
_JSON_FAILS = (ValueError, KeyError, TypeError, AttributeError)  # as facts_of catches


def _entry_of(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(
        int(row[0]),
        int(row[1]),
        UUID(bytes=bytes(row[2])),
        UUID(bytes=bytes(row[3])),
        int(row[4]),
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        row[11],
    )


def verify_tuples(
    first: list[tuple[Any, ...]],
    entry_tuples: Callable[[int, int], list[tuple[Any, ...]] | None],
    read_tuples: Callable[[int, int], list[tuple[Any, ...]]],
    log: EventLog,
    batch_size: int = 5000,
) -> Verification:
    """``verify_chain`` over tuples: trail rows ``(seq, position, complaint id bytes, originator
    id bytes, version, type, recorded_at, actor_sub, actor_unit, event_hash, prev_hash, hash)``
    and stored events ``(position, originator id bytes, version, topic, state)``.

    Each entry takes the checks of ``_link_problem`` and ``_compare`` computed with less work
    (no objects, the last link's hash kept as bytes). An entry that does not pass them all
    goes, as an ``AuditEntry`` beside the ``LoggedEvent`` the log reads at that position, to
    those two functions, which decide and word the result: the same as ``verify_chain``'s.
    """
    store = read_ahead(_tuples(read_tuples, batch_size))
    good, head, position = 0, GENESIS, 0
    head_bytes = bytes(32)  # GENESIS in bytes
    topics: dict[str, bytes] = {}
    rows: list[tuple[Any, ...]] | None = first
    while rows:
        for row in rows:
            event = next(store, None)
            link = None
            seq, at, entry_hash, prev_hash = row[0], row[1], row[11], row[10]
            if (
                event is not None
                and seq == good + 1
                and prev_hash == head
                and at > position
                and event[0] == at
            ):
                topic, state = event[3], event[4]
                encoded = topics.get(topic)
                if encoded is None:
                    encoded = topics[topic] = topic.encode()
                digest = _sha256(
                    b"".join(
                        (
                            _DOMAIN,
                            _COUNTS.pack(at, event[2], len(encoded)),
                            event[1],
                            encoded,
                            _LENGTH.pack(len(state)),
                            state,
                        )
                    )
                ).digest()
                # The trail names this digest (in hex): chain_hash(head, that hex, seq) is this.
                if digest.hex() == row[9]:
                    chained = _sha256(head_bytes + digest + _SEQ.pack(seq))
                    if (
                        chained.hexdigest() == entry_hash
                        and row[3] == event[1]
                        and row[4] == event[2]
                    ):
                        link = chained.digest()
                        try:
                            derived = json_facts(state, event[1], topic)
                        except _JSON_FAILS:
                            link = None  # facts_of decodes the event: the slow path does
                        else:
                            case = derived[0]
                            if (
                                row[2] != (case if isinstance(case, bytes) else case.bytes)
                                or row[5] != derived[1]
                                or row[6] != derived[2]
                                or row[7] != derived[3]
                                or row[8] != derived[4]
                            ):
                                link = None
            if link is None:
                entry = _entry_of(row)
                problem = _link_problem(entry, good + 1, head, position)
                if problem is None:
                    logged = None
                    if event is not None:
                        found = log.read(event[0] - 1, 1)
                        logged = found[0] if found else None
                    problem = _compare(entry, logged)
                if problem is not None:
                    return Verification(False, good, head, position, good + 1, problem)
                link = bytes.fromhex(entry_hash)
            head_bytes = link
            good, head, position = seq, entry_hash, at
        if len(rows) < batch_size:
            break
        rows = entry_tuples(rows[-1][0], batch_size)
    return Verification(True, good, head, position)


def _tuples(
    read: Callable[[int, int], list[tuple[Any, ...]]], batch_size: int
) -> Iterator[tuple[Any, ...]]:
    after = 0
    while True:
        batch = read(after, batch_size)
        yield from batch
        if not batch:
            return
        after = batch[-1][0]


T = TypeVar("T")


def read_ahead(items: Iterator[T], depth: int = 20) -> Iterator[T]:
    """``items`` produced by a thread of their own, up to ``depth`` chunks of 1,000 ahead (the
    database reads overlap the checks). An error is raised where its item would have come."""
    box: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def hand(chunk: Any) -> bool:
        while not stop.is_set():
            try:
                box.put(chunk, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        chunk: list[Any] = []
        try:
            for item in items:
                chunk.append(item)
                if len(chunk) >= 1000:
                    if not hand(chunk):
                        return
                    chunk = []
            hand((end, chunk, None))
        except BaseException as error:  # handed over to the consumer
            hand((end, chunk, error))

    thread = threading.Thread(target=produce, name="aduan-verify-read", daemon=True)
    thread.start()
    try:
        while True:
            got = box.get()
            if isinstance(got, tuple) and got and got[0] is end:
                yield from got[1]
                if got[2] is not None:
                    raise got[2]
                return
            yield from got
    finally:
        stop.set()


def check_checkpoint(checkpoint: Checkpoint, entry: AuditEntry | None) -> Verification | None:
    """None when the chain still holds the checkpoint's head at its seq, else what failed.

    A consistent rewrite of both the event store and the trail passes every other check; it
    cannot keep the head someone signed and kept outside the database.
    """
    if entry is None:
        return Verification(
            False,
            0,
            GENESIS,
            0,
            checkpoint.seq,
            f"the trail no longer reaches the checkpoint's seq {checkpoint.seq} (truncated)",
        )
    if entry.hash != checkpoint.head or entry.position != checkpoint.position:
        return Verification(
            False,
            0,
            GENESIS,
            0,
            checkpoint.seq,
            f"the trail's hash at seq {checkpoint.seq} is not the signed head (rewritten since "
            f"the checkpoint of {checkpoint.signed_at.isoformat()})",
        )
    return None


def verify_trail(
    entries: Iterable[AuditEntry],
    log: EventLog,
    *,
    checkpoint: Checkpoint | None = None,
    trusted_key: str | None = None,
    batch_size: int = 5000,
) -> Verification:
    """The whole check: the chain against the store and, given one, a signed checkpoint."""
    at_checkpoint: list[AuditEntry] = []

    def watched() -> Iterator[AuditEntry]:
        for entry in entries:
            if checkpoint is not None and entry.seq == checkpoint.seq:
                at_checkpoint.append(entry)
            yield entry

    if checkpoint is not None:
        problem = signature_problem(checkpoint, trusted_key or "")
        if problem is not None:
            return Verification(False, 0, GENESIS, 0, checkpoint.seq, problem)
    result = verify_chain(watched(), log, batch_size)
    if not result.ok or checkpoint is None:
        return result
    failed = check_checkpoint(checkpoint, at_checkpoint[0] if at_checkpoint else None)
    if failed is None:
        return result
    return Verification(
        False, result.entries, result.head, result.position, failed.first_bad_seq, failed.reason
    )
