"""Request and response bodies of the public side (/v1/public/...): no case ids, no officers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.vocabulary import Category, Kind, Outcome, Status
from interfaces.http.schemas import ReporterIn, RequestBody, Text


class PublicChannel(StrEnum):
    """The channels of ``application.public.PUBLIC_CHANNELS`` (a unit test keeps them equal)."""

    WEB = "web"
    MOBILE_APP = "mobile_app"
    WHATSAPP = "whatsapp"
    SMS = "sms"
    LIVE_CHAT = "live_chat"
    SOCIAL_MEDIA = "social_media"
    WBS = "wbs"


class PublicComplaintIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "complaint",
                    "category": "pangan_olahan",
                    "subject": "Susu kemasan kedaluwarsa dijual",
                    "description": "Toko di Jl. Sudirman menjual susu UHT yang sudah kedaluwarsa.",
                    "reporter": {"name": "Andi", "email": "andi@example.id"},
                    "anonymous": False,
                    "confidential": False,
                }
            ]
        }
    )

    kind: Kind
    channel: PublicChannel = Field(
        PublicChannel.WEB, description="How the complainant reached us (default: web)"
    )
    category: Category
    subject: str = Field(min_length=1, max_length=200)
    description: str = Text
    reporter: ReporterIn | None = None
    anonymous: bool = False
    confidential: bool = False


class PublicReplyIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"message": "Nomor izin edar di kemasan: MD 123456789."}]}
    )
    message: str = Text


Score = Annotated[int, Field(strict=True, ge=1, le=4)]


class SurveyIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"scores": [4, 3, 4, 4, 3, 4, 4, 3, 4], "comment": "Cepat ditanggapi."}]
        }
    )
    scores: list[Score] = Field(
        min_length=9,
        max_length=9,
        description="Nine scores 1-4, in the order of PermenPANRB 14/2017's nine elements",
    )
    comment: str | None = Field(None, max_length=2000)


class ObjectionIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Jawaban tidak menjawab pertanyaan saya."}]}
    )
    reason: str = Field(min_length=1, max_length=2000)


class PublicFiledOut(BaseModel):
    tracking_number: str = Field(description="Grouped for reading, e.g. 7K2M-9QXD-4TZ")
    pin: str | None = Field(
        description="The secret PIN, shown this once (null when a retry replays the first answer)"
    )
    status: Status


class PublicCommandOut(BaseModel):
    tracking_number: str
    status: Status
    waiting_for_complainant: bool


class TimelineEntryOut(BaseModel):
    type: Literal[
        "received",
        "acknowledged",
        "routed",
        "follow_up",
        "data_requested",
        "replied",
        "closed",
        "reopened",
        "survey_answered",
    ]
    at: datetime
    text: str | None = Field(description="What the complainant is told; null when nothing")
    action: str | None = Field(description="The follow-up action (follow_up, data_requested)")
    outcome: Outcome | None = Field(description="The outcome (closed)")


class PublicCaseOut(BaseModel):
    """A case as its PIN holder sees it; a confidential case shows its status alone."""

    tracking_number: str
    status: Status
    waiting_for_complainant: bool
    confidential: bool
    kind: Kind | None
    category: Category | None
    subject: str | None
    received_at: datetime | None
    outcome: Outcome | None
    survey_answered: bool
    timeline: list[TimelineEntryOut]
