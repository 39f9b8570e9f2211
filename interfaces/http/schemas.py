"""Request and response bodies of the HTTP API, separate from the domain's objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
)

from domain.vocabulary import (
    Category,
    Channel,
    FollowUpAction,
    Kind,
    Outcome,
    Stage,
    StageState,
    Status,
)

Text = Field(min_length=1, max_length=10_000)


class TemplatePick(BaseModel):
    """A standard answer (referensi standar jawaban) the officer picked, recorded in the event."""

    template_id: UUID | None = Field(
        None, description="An answer template of the case's category (see /v1/answer-templates)"
    )
    template_version: int | None = Field(
        None, ge=1, description="Its version; default the latest", validate_default=True
    )

    @field_validator("template_version")
    @classmethod
    def _version_needs_template(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("template_id") is None:
            raise ValueError("only together with template_id")
        return value


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReporterIn(RequestBody):
    name: str | None = Field(None, max_length=200)
    email: EmailStr | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32, pattern=r"^\+?[0-9][0-9 ()\-]{4,30}$")
    address: str | None = Field(None, max_length=500)


class NewComplaintIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "complaint",
                    "channel": "phone",
                    "category": "kosmetik",
                    "subject": "Krim pemutih tanpa izin edar",
                    "description": "Pelapor membeli krim pemutih di pasar tanpa nomor notifikasi"
                    " BPOM dan mengalami iritasi kulit.",
                    "reporter": {
                        "name": "Siti Rahma",
                        "email": "siti@example.id",
                        "phone": "+62 812 3456 7890",
                        "address": "Jl. Merdeka 1, Jakarta",
                    },
                    "anonymous": False,
                    "confidential": False,
                    "needs_inspection": True,
                    "intake_unit": "ULPK-PUSAT",
                }
            ]
        }
    )

    kind: Kind
    channel: Channel
    category: Category
    subject: str = Field(min_length=1, max_length=200)
    description: str = Text
    reporter: ReporterIn | None = None
    anonymous: bool = False
    confidential: bool = False
    needs_inspection: bool = False
    intake_unit: str = Field(min_length=1, max_length=64)
    received_at: AwareDatetime | None = Field(
        None, description="When it actually arrived, if earlier than now (back-dated intake)"
    )
    external_ref: str | None = Field(None, max_length=128)
    product_registration: str | None = Field(
        None,
        max_length=64,
        description="The BPOM registration number of the product concerned, as written (e.g. "
        "NA18201200123, MD 224510001234, POM TR 123456789); stored in a normal form and used "
        "to find likely duplicates",
    )


class AcknowledgeIn(RequestBody, TemplatePick):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"message": "Pengaduan Anda telah kami terima dan sedang ditelaah."}]
        }
    )
    message: str = Text


class RouteIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"to_unit": "BBPOM-JAKARTA", "note": "Mohon pemeriksaan sarana."}]
        }
    )
    to_unit: str = Field(min_length=1, max_length=64)
    note: str = Text
    assignee: str | None = Field(None, max_length=128)


class FollowUpIn(RequestBody, TemplatePick):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"action": "inspection", "note": "Pemeriksaan toko dijadwalkan.", "public": True}
            ]
        }
    )
    action: FollowUpAction
    note: str = Text
    public: bool = False


class ComplainantReplyIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"message": "Pelapor mengirim foto kemasan via telepon."}]}
    )
    message: str = Text


class CloseIn(RequestBody, TemplatePick):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"outcome": "answered", "answer": "Produk tersebut tidak terdaftar..."}]
        }
    )
    outcome: Outcome
    answer: str = Text
    duplicate_of: UUID | None = Field(
        None, description="Required when outcome is 'duplicate'", validate_default=True
    )

    @field_validator("duplicate_of")
    @classmethod
    def _only_with_duplicate(cls, value: UUID | None, info: ValidationInfo) -> UUID | None:
        """A body-only rule, so it is a 422 whatever the case's status (422 comes before 409)."""
        outcome = info.data.get("outcome")
        if outcome == Outcome.DUPLICATE and value is None:
            raise ValueError("required when the outcome is 'duplicate'")
        if outcome is not None and outcome != Outcome.DUPLICATE and value is not None:
            raise ValueError("only allowed when the outcome is 'duplicate'")
        return value

    forward_to: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        pattern=r"\S",
        description="The agency a 'forwarded' case goes to (its SP4N-LAPOR! agency code)",
        validate_default=True,
    )

    @field_validator("forward_to")
    @classmethod
    def _only_when_forwarded(cls, value: str | None, info: ValidationInfo) -> str | None:
        outcome = info.data.get("outcome")
        if outcome is not None and outcome != Outcome.FORWARDED and value is not None:
            raise ValueError("only allowed when the outcome is 'forwarded'")
        return value


class MarkDuplicateIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "original_id": "5f1c3a52-8c1e-4d6b-9a5e-0d7b4c2e9f10",
                    "note": "Sama dengan laporan krim pemutih sebelumnya.",
                }
            ]
        }
    )
    original_id: UUID = Field(description="The case this one duplicates (another case you see)")
    note: str | None = Field(
        None,
        min_length=1,
        max_length=10_000,
        description="The answer recorded with the close; a standard text when left out",
    )


class ReopenIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Pelapor keberatan atas jawaban."}]}
    )
    reason: str = Text


class CommandOut(BaseModel):
    id: UUID
    status: Status
    version: int
    position: int = Field(description="The event's place in the global log (read-your-writes)")


class CreatedOut(CommandOut):
    tracking_number: str
    possible_duplicates_url: str | None = Field(
        None, description="Likely duplicates among open cases, once the read model has the case"
    )


class ReporterOut(BaseModel):
    name: str | None
    email: str | None
    phone: str | None
    address: str | None


class ReporterHiddenOut(BaseModel):
    """An anonymous reporter, as the unit the case was routed to sees them: no fields."""

    anonymous: bool = True


class ReporterErasedOut(BaseModel):
    """A reporter whose data was erased (UU 27/2022): the key is gone, so are the fields."""

    erased: bool = True


class StageOut(BaseModel):
    stage: Stage
    started_at: datetime
    due_at: datetime = Field(description="Last instant of the due working day, unit's local time")
    state: StageState
    completed_at: datetime | None
    time_zone: str


class ComplaintOut(BaseModel):
    id: UUID
    tracking_number: str
    version: int
    status: Status
    waiting_for_complainant: bool
    kind: Kind
    channel: Channel
    category: Category
    subject: str
    description: str = Field(description='The free text; "[erased]" once the reporter is erased')
    reporter: ReporterOut | ReporterHiddenOut | ReporterErasedOut | None
    anonymous: bool
    confidential: bool
    needs_inspection: bool
    intake_unit: str
    handling_unit: str
    assignee: str | None
    received_at: datetime
    recorded_at: datetime
    updated_at: datetime
    external_ref: str | None
    policy_version: int
    outcome: Outcome | None
    answer: str | None
    duplicate_of: UUID | None
    duplicates: list[UUID] = Field(
        default_factory=list,
        description="Cases closed as duplicates of this one (that you may see); from a read "
        "model, so eventually consistent: pass ?after_position= to wait for a write",
    )
    product_registration: str | None = None
    closed_at: datetime | None
    reopened_at: datetime | None
    service_levels: list[StageOut]
    next_due_at: datetime | None
    as_of: datetime = Field(description="The instant the stage states were evaluated at")


class ActorOut(BaseModel):
    sub: str
    unit: str | None


class HistoryEventOut(BaseModel):
    version: int
    type: str
    occurred_at: datetime = Field(description="When the event was recorded")
    actor: ActorOut
    position: int | None
    data: dict[str, Any]


class HistoryOut(BaseModel):
    events: list[HistoryEventOut]


class EraseReporterIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"reason": "Permintaan penghapusan data pribadi oleh pelapor (UU 27/2022)"}
            ]
        }
    )
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why (e.g. the request's reference); kept in clear: no personal data here",
    )


class AccessEntryOut(BaseModel):
    seq: int
    at: datetime
    sub: str
    roles: list[str]
    complaint_id: UUID
    route: str


class AccessLogOut(BaseModel):
    items: list[AccessEntryOut]
    next_after: int | None = Field(description="Pass as ?after= for the next page; null at the end")
