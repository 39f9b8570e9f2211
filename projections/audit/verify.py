"""Verifying the chain against the event store: recompute every hash, compare every event.

Both sides are streamed in batches, side by side. Whatever was changed (the event store, the
trail, or an export file), the first entry where they part is reported with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from projections.audit.chain import GENESIS, chain_hash
from projections.audit.checkpoints import signature_problem
from projections.audit.projection import digest_of, facts_of
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
    """The database's trail against the event store."""
    return verify_chain(all_entries(view, batch_size), log, batch_size)


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
