"""The complainant's side, without a token: file a case, follow it, answer, rate, object.

The public client is the connection's address (``request.client.host``; behind a proxy, run
uvicorn with ``--proxy-headers --forwarded-allow-ips=<proxy>``): it scopes Idempotency-Keys,
rate limits and the count of wrong PINs. Case ids never leave this side: the tracking number
and the PIN are the complainant's handle on their case.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from application.complaints import CommandResult, NewCase
from application.public import PinHolder, PublicAnswer, PublicCase, PublicDesk
from domain.tracking_number import display
from domain.values import Reporter
from domain.vocabulary import Channel, Status
from interfaces.http.deps import ServicesDep, body_openapi, json_body, limit_per_client
from interfaces.http.problems import Problem
from interfaces.http.public_schemas import (
    ObjectionIn,
    PublicCaseOut,
    PublicCommandOut,
    PublicComplaintIn,
    PublicFiledOut,
    PublicReplyIn,
    SurveyIn,
)
from interfaces.http.routes.complaints import _file_together, _fingerprint

router = APIRouter(prefix="/v1/public/complaints", tags=["public"])

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    PublicComplaintIn,
    PublicReplyIn,
    SurveyIn,
    ObjectionIn,
)
TrackingNumber = Annotated[
    str, Path(max_length=32, description="The tracking number, e.g. 7K2M-9QXD-4TZ")
]
Pin = Annotated[
    str,
    Header(
        alias="X-Tracking-Pin",
        min_length=1,
        max_length=64,
        description="The secret PIN given when the case was filed",
    ),
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "No case with this tracking number and PIN (a wrong PIN and an unknown "
        "number get the same answer)"
    }
}
ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "Body too large"},
    422: {"description": "Invalid input (unknown fields included), or no X-Tracking-Pin"},
    429: {"description": "Too many requests, or too many wrong PINs; see Retry-After"},
    503: {"description": "Event store unavailable"},
}
COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {**NOT_FOUND, **ERRORS}


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _desk(services: ServicesDep) -> PublicDesk:
    if services.public is None:
        raise Problem(404, "http-error", "Not found", "the public side is not enabled")
    return services.public


DeskDep = Annotated[PublicDesk, Depends(_desk)]


@router.post(
    "",
    status_code=201,
    response_model=PublicFiledOut,
    operation_id="fileComplaintPublic",
    summary="A complainant files a case; answers its tracking number and a PIN shown once",
    dependencies=[limit_per_client("public-file")],
    responses={
        **ERRORS,
        409: {"description": "The same Idempotency-Key is still in flight"},
        422: {
            "description": "Invalid input (unknown fields included), or an Idempotency-Key "
            "already used with another body"
        },
    },
    openapi_extra=body_openapi(PublicComplaintIn),
)
async def file_complaint(
    request: Request,
    services: ServicesDep,
    desk: DeskDep,
    response: Response,
    body: Annotated[PublicComplaintIn, Depends(json_body(PublicComplaintIn))],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            pattern=r"^[\x21-\x7e]{1,255}$",
            description="A retry with the same key and body (from the same client) returns "
            "the first answer again, with pin null",
        ),
    ] = None,
) -> PublicFiledOut:
    reporter = body.reporter
    new = NewCase(
        kind=body.kind,
        channel=Channel(body.channel.value),
        category=body.category,
        subject=body.subject,
        description=body.description,
        reporter=Reporter(reporter.name, reporter.email, reporter.phone, reporter.address)
        if reporter
        else None,
        anonymous=body.anonymous,
        confidential=body.confidential,
        needs_inspection=False,
        intake_unit=desk.intake_unit,
    )
    client = _client(request)
    fingerprint = _fingerprint(services.fingerprint_key, body)  # type: ignore[arg-type]
    committer = services.committer
    if committer is None:
        result, pin = await run_in_threadpool(
            desk.file, new, client=client, idempotency_key=idempotency_key, fingerprint=fingerprint
        )
    else:
        filing = await run_in_threadpool(
            desk.prepare_filing,
            new,
            client=client,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            store_key=False,  # the writer stores a batch's keys together, before its events
        )
        if isinstance(filing.outcome, CommandResult):
            result, pin = filing.outcome, None
        else:
            result = await _file_together(desk.complaints, committer, filing.outcome)
            pin = None if result.replayed else filing.pin
    assert result.tracking_number is not None
    number = display(result.tracking_number)
    response.headers["Location"] = f"/v1/public/complaints/{number}"
    response.headers["Cache-Control"] = "no-store"  # the PIN must not linger in any cache
    return PublicFiledOut(tracking_number=number, pin=pin, status=Status(result.status))


def _case_out(case: PublicCase) -> PublicCaseOut:
    shown = dataclasses.asdict(case)
    shown["tracking_number"] = display(case.tracking_number)
    return PublicCaseOut.model_validate(shown)


def _holder(
    tracking_number: TrackingNumber, pin: Pin, request: Request, desk: DeskDep
) -> PinHolder:
    """Dependency: the PIN check (429, then 404), before any body is read."""
    return desk.open(tracking_number, pin, _client(request))


HolderDep = Annotated[PinHolder, Depends(_holder)]


def _answer_out(answer: PublicAnswer) -> PublicCommandOut:
    return PublicCommandOut(
        tracking_number=display(answer.tracking_number),
        status=Status(answer.status),
        waiting_for_complainant=answer.waiting_for_complainant,
    )


@router.get(
    "/{tracking_number}",
    response_model=PublicCaseOut,
    operation_id="trackComplaintPublic",
    summary="Status and public timeline of a case, for the holder of its PIN",
    dependencies=[limit_per_client("public-track")],
    responses={**NOT_FOUND, **{k: ERRORS[k] for k in (422, 429, 503)}},
)
def track_complaint(holder: HolderDep, desk: DeskDep, response: Response) -> PublicCaseOut:
    response.headers["Cache-Control"] = "no-store"
    return _case_out(desk.track(holder))


@router.post(
    "/{tracking_number}/replies",
    response_model=PublicCommandOut,
    operation_id="replyComplaintPublic",
    summary="Send the data an officer asked for; ends the wait (the SLA clock runs again)",
    dependencies=[limit_per_client("public-command")],
    responses={**COMMAND_ERRORS, 409: {"description": "The case is not waiting for data"}},
    openapi_extra=body_openapi(PublicReplyIn),
)
def reply(
    holder: HolderDep,
    desk: DeskDep,
    body: Annotated[PublicReplyIn, Depends(json_body(PublicReplyIn))],
) -> PublicCommandOut:
    return _answer_out(desk.reply(holder, message=body.message))


@router.post(
    "/{tracking_number}/survey",
    response_model=PublicCommandOut,
    operation_id="answerSurveyPublic",
    summary="Rate the service once the case is closed (IKM: nine scores 1-4), once",
    dependencies=[limit_per_client("public-command")],
    responses={
        **COMMAND_ERRORS,
        409: {"description": "The case is not closed, or its survey was answered already"},
    },
    openapi_extra=body_openapi(SurveyIn),
)
def answer_survey(
    holder: HolderDep,
    desk: DeskDep,
    body: Annotated[SurveyIn, Depends(json_body(SurveyIn))],
) -> PublicCommandOut:
    return _answer_out(desk.answer_survey(holder, scores=body.scores, comment=body.comment))


@router.post(
    "/{tracking_number}/objection",
    response_model=PublicCommandOut,
    operation_id="objectComplaintPublic",
    summary="Dispute the answer of a closed case: the case is reopened",
    dependencies=[limit_per_client("public-command")],
    responses={**COMMAND_ERRORS, 409: {"description": "The case is not closed"}},
    openapi_extra=body_openapi(ObjectionIn),
)
def object_to_answer(
    holder: HolderDep,
    desk: DeskDep,
    body: Annotated[ObjectionIn, Depends(json_body(ObjectionIn))],
) -> PublicCommandOut:
    return _answer_out(desk.object(holder, reason=body.reason))
