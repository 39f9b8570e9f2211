"""Personal data: per-case data keys, sealing and opening, who sees a reporter, erasure."""

from __future__ import annotations

import base64
import dataclasses
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.persistence import Transcoding

from application.access import CASE_ROLES, RESTRICTED_ROLES, Principal
from application.ports import AccessLog, AccessRecord, Clock, Envelope, KeyStore
from domain.complaint import Complaint
from domain.values import Reporter, SealedReporter, SealedText

ERASED = "[erased]"
REDACTED = "[redacted]"
UNREADABLE = "[unreadable]"
# The key of the "same reporter" hashes lives in the key store too, so that rotating the
# master key (which re-wraps it) keeps old and new hashes comparable.
MATCH_KEY_ID = uuid5(NAMESPACE_URL, "aduan:reporter-match-key")
REPORTER_FIELDS = ("name", "email", "phone", "address")


def associated_data(case_id: UUID, field: str) -> bytes:
    """What a sealed text is bound to: its case and its field."""
    return f"aduan:{case_id}:{field}".encode()


@dataclass(frozen=True)
class NewKey:
    """A new data key, wrapped, not stored yet."""

    key_id: UUID
    wrapped: bytes
    at: datetime


class CaseSealer:
    """Seals one case's personal data under one data key (the domain's ``Sealer``)."""

    def __init__(
        self, envelope: Envelope, case_id: UUID, key_id: UUID, key: bytes, match_key: bytes
    ) -> None:
        self._envelope = envelope
        self._case_id = case_id
        self._key_id = key_id
        self._key = key
        self._match_key = match_key

    @property
    def key_id(self) -> UUID:
        return self._key_id

    def seal(self, field: str, text: str) -> SealedText:
        return self._envelope.seal(
            self._key, self._key_id, associated_data(self._case_id, field), text
        )

    def match_hash(self, kind: str, normalised: str) -> str:
        return self._envelope.keyed_hash(self._match_key, f"{kind}:{normalised}")


class PersonalData:
    """The data keys of cases: created per case, stored wrapped, opened for reads, destroyed."""

    def __init__(self, keys: KeyStore, envelope: Envelope, clock: Clock) -> None:
        self.keys = keys
        self.envelope = envelope
        self.clock = clock
        self._match_key: bytes | None = None
        self._lock = threading.Lock()

    def new_key(self, at: datetime, key_id: UUID | None = None) -> UUID:
        key_id = key_id or uuid4()
        self.keys.add(key_id, self.envelope.wrap(key_id, self.envelope.new_key()), at)
        return key_id

    def key(self, key_id: UUID) -> bytes | None:
        """The data key in clear; None once erased."""
        wrapped = self.keys.get(key_id)
        return None if wrapped is None else self.envelope.unwrap(key_id, wrapped)

    def sealer(self, case_id: UUID, key_id: UUID) -> CaseSealer | None:
        key = self.key(key_id)
        if key is None:
            return None
        return CaseSealer(self.envelope, case_id, key_id, key, self.match_key())

    def sealer_for_new_case(self, case_id: UUID, at: datetime) -> CaseSealer:
        sealer, key = self.unstored_key_for_new_case(case_id, at)
        self.keys.add(key.key_id, key.wrapped, key.at)
        return sealer

    def unstored_key_for_new_case(self, case_id: UUID, at: datetime) -> tuple[CaseSealer, NewKey]:
        """A new case's sealer, and its wrapped key: store it before any event naming it."""
        # A fresh key id cannot clash, so the stored key will be this one: no read-back.
        key_id, key = uuid4(), self.envelope.new_key()
        sealer = CaseSealer(self.envelope, case_id, key_id, key, self.match_key())
        return sealer, NewKey(key_id, self.envelope.wrap(key_id, key), at)

    def sealer_for(self, case: Complaint, at: datetime) -> CaseSealer:
        """The sealer of a case's current key (a fresh key if that one is gone)."""
        found = self.sealer(case.id, case.key_id) if case.key_id is not None else None
        return found or self.sealer_for_new_case(case.id, at)

    def match_key(self) -> bytes:
        with self._lock:
            if self._match_key is None:
                key = self.key(MATCH_KEY_ID)
                if key is None:
                    fresh = self.envelope.new_key()
                    # Another process may store its own first: the stored one wins.
                    self.keys.add(
                        MATCH_KEY_ID, self.envelope.wrap(MATCH_KEY_ID, fresh), self.clock.now()
                    )
                    key = self.key(MATCH_KEY_ID)
                    assert key is not None
                self._match_key = key
            return self._match_key

    def erase(self, key_id: UUID, at: datetime) -> bool:
        if key_id == MATCH_KEY_ID:
            raise ValueError("the match key is not a case key")
        return self.keys.erase(key_id, at)

    def rewrap(self, old: Envelope) -> int:
        """Re-wrap every live key under this envelope's master key (keys from ``old``'s)."""

        def change(key_id: UUID, wrapped: bytes) -> bytes:
            try:
                key = old.unwrap(key_id, wrapped)
            except ValueError:
                self.envelope.unwrap(key_id, wrapped)  # already re-wrapped, or a wrong old key
                return wrapped
            return self.envelope.wrap(key_id, key)

        count = self.keys.rewrap(change)
        with self._lock:
            self._match_key = None
        return count

    def opener(self, case_id: UUID) -> Opener:
        return Opener(self, case_id)

    def open_texts(
        self, cases: list[tuple[UUID, dict[str, Any]]]
    ) -> list[dict[str, str | None]]:
        """Sealed texts of many cases in clear, by field, in order; None for a field whose key is
        destroyed. Read models use this for a whole batch: one key-store query for all keys."""
        key_ids = sorted(
            {v.key_id for _, values in cases for v in values.values() if isinstance(v, SealedText)}
        )
        keys = {
            key_id: None if wrapped is None else self.envelope.unwrap(key_id, wrapped)
            for key_id, wrapped in self.keys.get_many(key_ids).items()
        }
        opened_all = []
        for case_id, values in cases:
            opener = Opener(self, case_id, keys)
            opened: dict[str, str | None] = {}
            for field, value in values.items():
                text = None if value is None or opener.erased(value) else opener.text(field, value)
                opened[field] = None if text in (ERASED, UNREADABLE) else text
            opened_all.append(opened)
        return opened_all


class Opener:
    """Opens the sealed texts of one case for one read, each key unwrapped once."""

    def __init__(
        self,
        personal: PersonalData,
        case_id: UUID,
        keys: dict[UUID, bytes | None] | None = None,
    ) -> None:
        self._personal = personal
        self._case_id = case_id
        self._keys: dict[UUID, bytes | None] = keys if keys is not None else {}

    def _key(self, key_id: UUID) -> bytes | None:
        if key_id not in self._keys:
            self._keys[key_id] = self._personal.key(key_id)
        return self._keys[key_id]

    def erased(self, value: Any) -> bool:
        key_id = _key_id_of(value)
        return key_id is not None and self._key(key_id) is None

    def text(self, field: str, value: SealedText | str | None) -> str | None:
        if value is None or isinstance(value, str):
            return value
        key = self._key(value.key_id)
        if key is None:
            return ERASED
        try:
            return self._personal.envelope.open(key, value, associated_data(self._case_id, field))
        except ValueError:
            return UNREADABLE

    def reporter(self, value: Reporter | SealedReporter) -> Reporter:
        if isinstance(value, Reporter):
            return value
        opened = {
            name: self.text(f"reporter.{name}", getattr(value, name)) for name in REPORTER_FIELDS
        }
        return Reporter(**opened)


def _key_id_of(value: Any) -> UUID | None:
    if isinstance(value, SealedText):
        return value.key_id
    if isinstance(value, SealedReporter):
        for name in REPORTER_FIELDS:
            sealed = getattr(value, name)
            if sealed is not None:
                return sealed.key_id  # type: ignore[no-any-return]
    return None


def sees_identity(principal: Principal, case: Complaint) -> bool:
    """Among those who see the case, who sees its reporter.

    An anonymous reporter's identity stays with the unit that took the case in: it never
    reaches the unit the case was routed to (which may be the one complained about), nor
    agency-wide readers. A whistle-blower's identity reaches only the case's designated roles
    (never an auditor, even one granted the case).
    """
    return sees_identity_of(
        principal, case.anonymous, case.is_restricted, case.intake_unit, case.units()
    )


def sees_identity_of(
    principal: Principal,
    anonymous: bool,
    restricted: bool,
    intake_unit: str,
    units: Iterable[str],
) -> bool:
    """``sees_identity`` for a case known by its read-model row."""
    roles = RESTRICTED_ROLES if restricted else CASE_ROLES
    if anonymous:
        return principal.has(*roles) and principal.serves(intake_unit)
    if restricted:
        return principal.has(*roles) and any(principal.serves(u) for u in units)
    return True


@dataclass(frozen=True)
class Disclosure:
    """The personal data of a case as one caller may read it."""

    reporter: Reporter | None
    reporter_hidden: Literal["anonymous", "erased"] | None
    description: str
    answer: str | None


def disclose(opener: Opener, principal: Principal, case: Complaint) -> Disclosure:
    reporter: Reporter | None = None
    hidden: Literal["anonymous", "erased"] | None = None
    if case.reporter is not None:
        if opener.erased(case.reporter) or case.reporter_erased:
            hidden = "erased"
        elif not sees_identity(principal, case):
            hidden = "anonymous"
        else:
            reporter = opener.reporter(case.reporter)
    elif case.reporter_erased:
        hidden = "erased"
    elif case.anonymous and not sees_identity(principal, case):
        hidden = "anonymous"
    return Disclosure(
        reporter=reporter,
        reporter_hidden=hidden,
        description=opener.text("description", case.description) or "",
        answer=opener.text("answer", case.answer),
    )


def disclosed_data(opener: Opener, identity: bool, data: dict[str, Any]) -> dict[str, Any]:
    """An event's data for history: sealed values opened, hidden or marked erased."""
    shown: dict[str, Any] = {}
    for field, value in data.items():
        if isinstance(value, SealedReporter | Reporter):
            if opener.erased(value):
                shown[field] = ERASED
            elif not identity:
                shown[field] = REDACTED
            else:
                shown[field] = dataclasses.asdict(opener.reporter(value))
        elif isinstance(value, SealedText):
            shown[field] = opener.text(field, value)
        else:
            shown[field] = value
    return shown


def record_read(
    log: AccessLog, principal: Principal, case: Complaint, route: str, at: datetime
) -> None:
    """Reads of confidential, whistle-blowing and staff-ethics cases leave a trace."""
    if case.confidential or case.is_restricted:
        log.record(
            AccessRecord(
                at=at,
                sub=principal.sub,
                roles=tuple(sorted(r.value for r in principal.roles)),
                complaint_id=case.id,
                route=route,
            )
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class SealedTextAsDict(Transcoding):
    type = SealedText
    name = "sealed"

    def encode(self, obj: SealedText) -> dict[str, Any]:
        return {"k": obj.key_id.hex, "n": _b64(obj.nonce), "c": _b64(obj.ciphertext)}

    def decode(self, data: dict[str, Any]) -> SealedText:
        return SealedText(UUID(data["k"]), base64.b64decode(data["n"]), base64.b64decode(data["c"]))


class SealedReporterAsDict(Transcoding):
    type = SealedReporter
    name = "sealed_reporter"

    def encode(self, obj: SealedReporter) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

    def decode(self, data: dict[str, Any]) -> SealedReporter:
        return SealedReporter(**data)
