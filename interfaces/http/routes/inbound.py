"""Messaging gateways: ``POST /v1/inbound/{channel}``, a message signed with the channel's secret.

No token: the HMAC signature over the timestamp and the raw body is the gateway's credential
(docs/inbound.md). Checks, each a problem with nothing stored: 404 channel not enabled → 401
unsigned, stale timestamp → 413 body too large → 401 bad signature → 422 invalid message →
409 message id reused with another body → 429 sender over the rate limit. A message id taken
before answers its first answer again, with 200.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from application.errors import IdempotencyKeyReused
from application.inbound import (
    Attachment,
    InboundAnswer,
    InboundMessage,
    MessageIdReused,
)
from domain.tracking_number import display
from domain.vocabulary import Channel, Status
from interfaces.http.deps import ServicesDep, enforce_rate_limit, read_body
from interfaces.http.problems import Problem, field_errors, invalid
from interfaces.http.schemas import RequestBody

router = APIRouter(prefix="/v1/inbound", tags=["inbound"])

TIMESTAMP_HEADER = "X-Aduan-Timestamp"
SIGNATURE_HEADER = "X-Aduan-Signature"
_ID = r"^[\x21-\x7e]{1,200}$"
_UNIX_SECONDS = re.compile(r"^[0-9]{1,12}$")  # ASCII digits only: int() takes others too


class SenderIn(RequestBody):
    id: str = Field(min_length=1, max_length=200, description="Phone number (E.164) or handle")
    name: str | None = Field(None, max_length=200)


class AttachmentIn(RequestBody):
    url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://")
    content_type: str = Field(min_length=1, max_length=200)
    filename: str | None = Field(None, max_length=255)
    size: int | None = Field(None, ge=0)


class InboundMessageIn(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message_id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYIDNBQ0Q",
                    "timestamp": "2026-12-03T09:15:00+07:00",
                    "sender": {"id": "+6281234567890", "name": "Wati"},
                    "text": "Krim pemutih tanpa izin edar dijual di pasar",
                    "conversation_id": "6281234567890",
                }
            ]
        }
    )

    message_id: str = Field(pattern=_ID, description="The gateway's id: once per channel")
    timestamp: AwareDatetime = Field(description="When the sender sent it (with an offset)")
    sender: SenderIn
    text: str = Field("", max_length=10_000)
    conversation_id: str | None = Field(None, pattern=_ID)
    tracking_number: str | None = Field(
        None, max_length=32, description="A tracking number the sender quoted, if any"
    )
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _says_something(self) -> InboundMessageIn:
        if not self.text and not self.attachments:
            raise ValueError("a message needs a text or an attachment")
        return self


REQUEST_MODELS: tuple[type[BaseModel], ...] = (InboundMessageIn,)


class InboundOut(BaseModel):
    tracking_number: str = Field(description="The case's tracking number, e.g. 7K2M-9QXD-4TZ")
    status: Status
    result: Literal["filed", "appended"] = Field(
        description="filed: a new case; appended: added to the sender's open case"
    )
    pin: str | None = Field(
        description="A new case's PIN for tracking it (relay it to the sender); null otherwise"
    )


@dataclass(frozen=True)
class Delivery:
    channel: Channel
    body: bytes


def _unauthorized(slug: str, title: str, detail: str) -> Problem:
    return Problem(401, slug, title, detail, headers={"WWW-Authenticate": "HMAC-SHA256"})


async def _signed(
    request: Request,
    services: ServicesDep,
    channel: Annotated[str, Path(max_length=32, description="whatsapp, sms, social_media, ...")],
) -> Delivery:
    """Dependency: the channel, the signature's headers, the body's size, then its signature."""
    inbound = services.inbound
    found = inbound.channel(channel) if inbound is not None else None
    if inbound is None or found is None:
        raise Problem(404, "http-error", "Not found", f"no inbound channel '{channel}' is enabled")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    try:
        if not _UNIX_SECONDS.match(timestamp) or not request.headers.get(SIGNATURE_HEADER):
            raise _unauthorized(
                "inbound-unsigned",
                "Signature required",
                f"send {TIMESTAMP_HEADER} (Unix seconds) and {SIGNATURE_HEADER} (sha256=<hex>)",
            )
        if not inbound.fresh(int(timestamp)):
            raise _unauthorized(
                "inbound-stale-timestamp",
                "Timestamp outside the allowed window",
                f"{TIMESTAMP_HEADER} must be within {inbound.window_seconds:g} s of now; "
                "sign each delivery afresh",
            )
        body = await read_body(request, services.max_body_bytes)
        if not inbound.signed(found, timestamp, body, request.headers.get(SIGNATURE_HEADER)):
            raise _unauthorized(
                "inbound-bad-signature",
                "Signature does not verify",
                f"{SIGNATURE_HEADER} is not the HMAC-SHA256 of '{{timestamp}}.{{body}}' "
                "under this channel's secret",
            )
    except Problem as problem:
        await run_in_threadpool(inbound.rejected, found, f"{problem.status} {problem.slug}")
        raise
    return Delivery(found, body)


def _message(raw: bytes) -> InboundMessageIn:
    try:
        return InboundMessageIn.model_validate_json(raw)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise invalid(
                "the body is not valid JSON",
                [{"field": "(body)", "pointer": "#", "detail": "not valid JSON"}],
            ) from error
        raise invalid("some fields are not valid", field_errors(error)) from error


def _domain(body: InboundMessageIn) -> InboundMessage:
    return InboundMessage(
        message_id=body.message_id,
        sent_at=body.timestamp,
        sender_id=body.sender.id,
        sender_name=body.sender.name,
        text=body.text,
        conversation_id=body.conversation_id,
        tracking_number=body.tracking_number,
        attachments=tuple(
            Attachment(a.url, a.content_type, a.filename, a.size) for a in body.attachments
        ),
    )


def _out(answer: InboundAnswer) -> InboundOut:
    return InboundOut(
        tracking_number=display(answer.tracking_number),
        status=Status(answer.status),
        result=answer.result,  # type: ignore[arg-type]
        pin=answer.pin,
    )


ANSWER_EXAMPLE = {"tracking_number": "7K2M-9QXD-4TZ", "status": "received", "result": "filed"}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": InboundOut,
        "description": "This message id was taken in before: its first answer again (nothing "
        "stored again)",
    },
    401: {"description": "No signature, a timestamp outside the window, or a wrong signature"},
    404: {"description": "No such channel, or no secret configured for it"},
    409: {"description": "This message id came before with another body, or is in flight"},
    413: {"description": "Body too large"},
    422: {"description": "Not valid JSON, or a field is invalid (named in errors)"},
    429: {"description": "Too many messages from this sender; see Retry-After"},
    503: {"description": "Event store unavailable; retry"},
}
SIGNATURE_PARAMETERS = [
    {
        "name": TIMESTAMP_HEADER,
        "in": "header",
        "required": True,
        "description": "When the delivery was signed, in Unix seconds",
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
    },
    {
        "name": SIGNATURE_HEADER,
        "in": "header",
        "required": True,
        "description": "sha256=<hex HMAC-SHA256 of '{timestamp}.{raw body}'> under the "
        "channel's shared secret",
        "schema": {"type": "string"},
    },
]


@router.post(
    "/{channel}",
    status_code=201,
    response_model=InboundOut,
    operation_id="receiveGatewayMessage",
    summary="A messaging gateway delivers a complainant's message: files a case or adds to one",
    responses=RESPONSES,
    openapi_extra={
        "parameters": SIGNATURE_PARAMETERS,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/InboundMessageIn"}}
            },
        },
    },
)
def receive_message(
    delivery: Annotated[Delivery, Depends(_signed)],
    services: ServicesDep,
    response: Response,
) -> InboundOut:
    inbound = services.inbound
    assert inbound is not None  # the dependency answered 404 otherwise
    channel = delivery.channel
    response.headers["Cache-Control"] = "no-store"  # a PIN must not linger in any cache
    try:
        body = _message(delivery.body)
        message = _domain(body)
        fingerprint = _fingerprint(services.fingerprint_key, channel, body)
        answer = inbound.replay(channel, message.message_id, fingerprint)
        replayed = answer is not None
        if answer is None:
            sender = inbound.sender_key(channel, message.sender_id)
            enforce_rate_limit(services, f"inbound:{channel.value}:{sender}")
            answer, replayed = inbound.receive(channel, message, fingerprint)
    except MessageIdReused as error:  # (counted as refused by the service)
        raise Problem(409, "message-id-reused", "Message id already used", str(error)) from error
    except IdempotencyKeyReused as error:  # the same, found by the case after a prune
        inbound.rejected(channel, "409 a message id came again with a different body")
        raise Problem(409, "message-id-reused", "Message id already used", str(error)) from error
    except Problem as problem:
        inbound.rejected(channel, f"{problem.status} {problem.detail}")
        raise
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return _out(answer)


def _fingerprint(key: bytes, channel: Channel, body: InboundMessageIn) -> str:
    """A keyed hash of the message as validated (a retry re-serialised by the gateway is still
    the same message; no one without the key can test a guess of what a message said)."""
    canonical = body.model_dump_json().encode()
    return hmac.new(key, channel.value.encode() + b"\x1f" + canonical, hashlib.sha256).hexdigest()
