"""Open311 GeoReport v2 (JSON) over the public side: services, file a request, list requests.

An exception to problem+json: every error under ``/open311/`` is the spec's array
``[{"code": 400, "description": "..."}]`` (400 for any bad input, 403 for a missing or wrong
api_key, 404 for an unknown service_code or request, 413, 429, 503 as elsewhere). See
docs/open311.md for the mapping and what the lists never show.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from application.complaints import CommandResult, NewCase
from application.errors import IdempotencyKeyReused, RequestInFlight
from application.open311 import MAX_PAGE_SIZE, ListedRequest, Open311, RequestQuery
from application.public import PublicDesk
from domain.tracking_number import display, normalise
from domain.values import Reporter
from domain.vocabulary import Category, Channel, Kind, Status
from interfaces.http.deps import ServicesDep, enforce_rate_limit, read_body
from interfaces.http.problems import Problem
from interfaces.http.routes.complaints import (
    IDEMPOTENCY_KEY_PARAMETER,
    _file_together,
    _idempotency_key,
)

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"])

# service_code (our category) -> service_name, description, group, keywords
SERVICES: dict[Category, tuple[str, str, str, str]] = {
    Category.OBAT: ("Obat", "Obat: izin edar, mutu, efek samping, peredaran", "produk", "obat"),
    Category.OBAT_TRADISIONAL: (
        "Obat tradisional",
        "Jamu dan obat tradisional: izin edar, bahan kimia obat, peredaran",
        "produk",
        "jamu,obat tradisional",
    ),
    Category.SUPLEMEN_KESEHATAN: (
        "Suplemen kesehatan",
        "Suplemen kesehatan: izin edar, mutu, klaim, peredaran",
        "produk",
        "suplemen,vitamin",
    ),
    Category.KOSMETIK: (
        "Kosmetik",
        "Kosmetik: izin edar, bahan berbahaya, efek samping, peredaran",
        "produk",
        "kosmetik,skincare",
    ),
    Category.PANGAN_OLAHAN: (
        "Pangan olahan",
        "Pangan olahan: kedaluwarsa, label, izin edar, cemaran",
        "produk",
        "makanan,minuman,pangan",
    ),
    Category.YANBLIK_REGISTRASI: (
        "Layanan registrasi",
        "Layanan publik: registrasi dan izin edar produk",
        "layanan_publik",
        "registrasi,izin edar",
    ),
    Category.YANBLIK_SERTIFIKASI: (
        "Layanan sertifikasi",
        "Layanan publik: sertifikasi sarana (CPOB, CPPOB, ...)",
        "layanan_publik",
        "sertifikasi",
    ),
    Category.YANBLIK_SISTEM_ELEKTRONIK: (
        "Sistem elektronik layanan",
        "Layanan publik: gangguan sistem elektronik dan aplikasi layanan",
        "layanan_publik",
        "aplikasi,sistem",
    ),
    Category.YANBLIK_PETUGAS: (
        "Petugas layanan",
        "Layanan publik: sikap dan kinerja petugas layanan",
        "layanan_publik",
        "petugas",
    ),
    Category.ETIKA_PEGAWAI: (
        "Etika pegawai",
        "Pelanggaran etika pegawai (tidak pernah tampil di daftar publik)",
        "pegawai",
        "etika,pegawai",
    ),
    Category.LAINNYA: ("Lainnya", "Pengaduan lain", "lainnya", "lainnya"),
}
FIELDS = frozenset(
    {
        "api_key",
        "jurisdiction_id",
        "service_code",
        "lat",
        "long",
        "address_string",
        "address_id",
        "email",
        "device_id",
        "account_id",
        "first_name",
        "last_name",
        "phone",
        "description",
        "media_url",
    }
)
LIMITS = {
    "api_key": 200,
    "jurisdiction_id": 100,
    "service_code": 64,
    "lat": 32,
    "long": 32,
    "address_string": 500,
    "address_id": 100,
    "email": 254,
    "device_id": 100,
    "account_id": 100,
    "first_name": 100,
    "last_name": 100,
    "phone": 32,
    "description": 4000,
    "media_url": 2000,
}
SUBJECT_LENGTH = 200
MAX_SPAN = timedelta(days=90)
NOTICE = (
    "Simpan nomor ini dan PIN {pin} (hanya ditampilkan sekali): keduanya dibutuhkan untuk "
    "mengikuti, menjawab dan menilai pengaduan di /v1/public/complaints/{number}."
)
NOTICE_REPLAY = "Permintaan ini sudah tercatat; PIN tidak ditampilkan lagi."


class Open311Error(BaseModel):
    code: int
    description: str


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: str = "realtime"
    keywords: str
    group: str


class FiledOut(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: None = None


class RequestOut(BaseModel):
    service_request_id: str
    status: str = Field(description="open or closed")
    status_notes: str = Field(description="Our detailed status (and outcome once closed)")
    service_name: str
    service_code: str
    description: None = Field(default=None, description="Never shown: the PIN holder reads it")
    agency_responsible: str
    service_notice: None = None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: None = None
    address_id: None = None
    zipcode: None = None
    lat: None = None
    long: None = None
    media_url: None = None


class DiscoveryEndpoint(BaseModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class DiscoveryOut(BaseModel):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[DiscoveryEndpoint]


def error_response(problem: Problem) -> JSONResponse:
    """A problem, in the spec's error format (validation errors: 400, one entry per field)."""
    status = 400 if problem.status == 422 else problem.status
    fields = problem.extra.get("errors") or []
    entries = [
        {"code": status, "description": f"{e.get('field')}: {e.get('detail')}"} for e in fields
    ] or [{"code": status, "description": problem.detail}]
    return JSONResponse(entries, status_code=status, headers=problem.headers)


def bad(description: str) -> Problem:
    return Problem(400, "open311-bad-request", "Bad request", description)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _facade(services: ServicesDep) -> Open311:
    if services.open311 is None or services.public is None:
        raise Problem(404, "http-error", "Not found", "Open311 is not enabled here")
    return services.open311


FacadeDep = Annotated[Open311, Depends(_facade)]


def _read_limit(request: Request, services: ServicesDep) -> None:
    enforce_rate_limit(services, f"open311-read:ip:{_client(request)}")


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad input (the spec's error array)"},
    429: {"description": "Too many requests; see Retry-After"},
    503: {"description": "Event store unavailable"},
}


@router.get(
    "/discovery.json",
    response_model=DiscoveryOut,
    operation_id="open311Discovery",
    summary="Open311 service discovery document",
    responses={404: {"description": "Open311 is off"}},
)
def discovery(request: Request, facade: FacadeDep) -> DiscoveryOut:
    base = str(request.base_url).rstrip("/") + PREFIX
    return DiscoveryOut(
        changeset="2026-12-01T00:00:00Z",
        contact="See the agency's complaint desk",
        key_service="Ask the agency for an api_key" if facade.api_keys else "No api_key needed",
        endpoints=[
            DiscoveryEndpoint(
                specification="http://wiki.open311.org/GeoReport_v2",
                url=base,
                changeset="2026-12-01T00:00:00Z",
                type="production",
                formats=["application/json"],
            )
        ],
    )


def _service(category: Category) -> ServiceOut:
    name, description, group, keywords = SERVICES[category]
    return ServiceOut(
        service_code=category.value,
        service_name=name,
        description=description,
        keywords=keywords,
        group=group,
    )


@router.get(
    "/services.json",
    response_model=list[ServiceOut],
    operation_id="open311Services",
    summary="The services (our categories); none has metadata (attributes)",
    dependencies=[Depends(_read_limit)],
    responses={**ERRORS, 404: {"description": "Open311 is off"}},
)
def services_list(
    facade: FacadeDep, jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None
) -> list[ServiceOut]:
    return [_service(category) for category in Category]


def _category(code: str) -> Category:
    try:
        return Category(code)
    except ValueError:
        raise Problem(404, "not-found", "Not found", f"service_code {code!r} not found") from None


@router.get(
    "/services/{service_code}.json",
    operation_id="open311ServiceDefinition",
    summary="A service definition: no service has attributes, so its list is empty",
    dependencies=[Depends(_read_limit)],
    responses={**ERRORS, 404: {"description": "No such service_code"}},
)
def service_definition(
    facade: FacadeDep, service_code: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    return {"service_code": _category(service_code).value, "attributes": []}


def _fields(raw: bytes, content_type: str) -> dict[str, str]:
    """The POST fields: form-urlencoded (the spec) or a JSON object of scalars."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("the body is not UTF-8") from None
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise bad(f"the body is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise bad("the body must be a JSON object")
        fields: dict[str, str] = {}
        for name, value in data.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise bad(f"{name}: must be a string or a number")
            fields[name] = str(value)
        return fields
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise bad("the body is not application/x-www-form-urlencoded") from None
    fields = {}
    for name, value in pairs:
        if name in fields:
            raise bad(f"{name}: given twice")
        fields[name] = value
    return fields


def _checked(fields: dict[str, str]) -> dict[str, str]:
    """Known fields only, within their lengths; empty means absent (the spec's rule)."""
    for name, value in fields.items():
        if name.startswith("attribute["):
            raise bad(f"{name}: no service has attributes")
        if name not in FIELDS:
            raise bad(f"{name}: unknown field")
        if len(value) > LIMITS[name]:
            raise bad(f"{name}: at most {LIMITS[name]} characters")
        if "\x00" in value:
            raise bad(f"{name}: must not contain NUL")
    return {name: value.strip() for name, value in fields.items() if value.strip()}


def _coordinate(fields: dict[str, str], name: str, bound: float) -> float | None:
    value = fields.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise bad(f"{name}: must be a number") from None
    if not math.isfinite(number) or abs(number) > bound:
        raise bad(f"{name}: must be between -{bound:g} and {bound:g}")
    return number


def _new_case(fields: dict[str, str], intake_unit: str) -> NewCase:
    category = _category(fields.get("service_code", "")) if "service_code" in fields else None
    if category is None:
        raise bad("service_code: required")
    lat = _coordinate(fields, "lat", 90)
    long = _coordinate(fields, "long", 180)
    if (lat is None) != (long is None):
        raise bad("lat and long: give both or neither")
    description = fields.get("description")
    if description is None:
        raise bad("description: required here (it is what the unit answers)")
    email = fields.get("email")
    if email is not None and ("@" not in email or " " in email):
        raise bad("email: not an e-mail address")
    place = []
    if "address_string" in fields:
        place.append(f"Alamat: {fields['address_string']}")
    if lat is not None:
        place.append(f"Koordinat: {lat:.6f}, {long:.6f}")
    if "address_id" in fields:
        place.append(f"address_id: {fields['address_id']}")
    if "media_url" in fields:
        place.append(f"Media: {fields['media_url']}")
    if place:
        description = description + "\n\n[Open311] " + "; ".join(place)
    first_line = fields["description"].splitlines()[0].strip() or SERVICES[category][0]
    subject = f"{SERVICES[category][0]}: {first_line}"
    if len(subject) > SUBJECT_LENGTH:
        subject = subject[: SUBJECT_LENGTH - 1] + "…"
    name = " ".join(n for n in (fields.get("first_name"), fields.get("last_name")) if n) or None
    reporter = Reporter(name, email, fields.get("phone"), None)
    return NewCase(
        kind=Kind.COMPLAINT,
        channel=Channel.WEB,
        category=category,
        subject=subject,
        description=description,
        reporter=None if reporter.is_empty() else reporter,
        anonymous=False,
        confidential=False,
        needs_inspection=False,
        intake_unit=intake_unit,
    )


@router.post(
    "/requests.json",
    response_model=list[FiledOut],
    operation_id="open311PostRequest",
    summary="File a service request (a case on channel web); answers its number and a PIN once",
    responses={
        **ERRORS,
        403: {"description": "api_key missing or not one of ours (when keys are configured)"},
        404: {"description": "No such service_code, or Open311 is off"},
        409: {"description": "The same Idempotency-Key is still in flight"},
        413: {"description": "Body too large"},
    },
    openapi_extra={
        "parameters": [IDEMPOTENCY_KEY_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["service_code", "description"],
                        "properties": {
                            name: {"type": "string", "maxLength": limit}
                            for name, limit in LIMITS.items()
                        },
                    }
                }
            },
        },
    },
)
async def post_request(
    request: Request, response: Response, services: ServicesDep, facade: FacadeDep
) -> list[FiledOut]:
    """Filed, replayed or refused, each request is counted (docs/open311.md, "As a connector")."""
    try:
        filed, replayed = await _post_request(request, response, services, facade)
    except Exception as error:
        reason = _refusal(error)
        detail = type(error).__name__ if reason == "error" else None
        await run_in_threadpool(facade.outcome, reason, services.clock.now(), detail)
        raise
    await run_in_threadpool(
        facade.outcome, "replayed" if replayed else "filed", services.clock.now()
    )
    return filed


def _refusal(error: Exception) -> str:
    """Why a POST requests was not filed, as a metrics label."""
    if isinstance(error, IdempotencyKeyReused):
        return "idempotency_key_reused"
    if isinstance(error, RequestInFlight):
        return "in_flight"
    if isinstance(error, Problem):
        return {
            400: "invalid",
            422: "invalid",
            403: "api_key",
            404: "unknown_service",
            413: "too_large",
            429: "rate_limited",
        }.get(error.status, "error")
    return "error"  # ours (the store unavailable, ...), not the client's


async def _post_request(
    request: Request, response: Response, services: ServicesDep, facade: Open311
) -> tuple[list[FiledOut], bool]:
    desk = services.public
    assert desk is not None
    client = _client(request)
    enforce_rate_limit(services, f"open311-file:ip:{client}")
    idempotency_key = _idempotency_key(request)
    raw = await read_body(request, services.max_body_bytes)
    fields = _checked(_fields(raw, request.headers.get("content-type", "")))
    if facade.api_keys:
        index = facade.key_index(fields.get("api_key"))
        if index is None:
            raise Problem(403, "forbidden", "Not allowed", "api_key missing or not valid")
        client = f"open311-key-{index}"
    new = _new_case(fields, desk.intake_unit)
    shown = {k: v for k, v in sorted(fields.items()) if k != "api_key"}
    fingerprint = hmac.new(
        services.fingerprint_key, json.dumps(shown).encode(), hashlib.sha256
    ).hexdigest()
    # An extension: the key is scoped to the client (its api_key, else its address) and kept
    # apart from /v1/public's keys.
    key = f"open311:{idempotency_key}" if idempotency_key is not None else None
    result, pin = await _file(services.committer, desk, new, client, fingerprint, key)
    assert result.tracking_number is not None
    number = display(result.tracking_number)
    response.headers["Location"] = f"{PREFIX}/requests/{number}.json"
    response.headers["Cache-Control"] = "no-store"
    notice = NOTICE.format(pin=pin, number=number) if pin is not None else NOTICE_REPLAY
    return [FiledOut(service_request_id=number, service_notice=notice)], result.replayed


async def _file(
    committer: Any,
    desk: PublicDesk,
    new: NewCase,
    client: str,
    fingerprint: str,
    idempotency_key: str | None = None,
) -> tuple[CommandResult, str | None]:
    if committer is None:
        return await run_in_threadpool(
            desk.file, new, client=client, idempotency_key=idempotency_key, fingerprint=fingerprint
        )
    filing = await run_in_threadpool(
        desk.prepare_filing,
        new,
        client=client,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        store_key=False,
    )
    if isinstance(filing.outcome, CommandResult):
        return filing.outcome, None
    result = await _file_together(desk.complaints, committer, filing.outcome)
    return result, None if result.replayed else filing.pin


def _request_out(found: ListedRequest) -> RequestOut:
    category = Category(found.category)
    closed = found.status == Status.CLOSED.value
    notes = f"closed: {found.outcome}" if closed and found.outcome else found.status
    return RequestOut(
        service_request_id=display(found.tracking_number),
        status="closed" if closed else "open",
        status_notes=notes,
        service_name=SERVICES[category][0],
        service_code=category.value,
        agency_responsible=found.handling_unit,
        requested_datetime=found.received_at.astimezone(UTC),
        updated_datetime=found.updated_at.astimezone(UTC),
        expected_datetime=found.expected_at.astimezone(UTC) if found.expected_at else None,
    )


def _number(value: str) -> str | None:
    try:
        return normalise(value.strip())
    except ValueError:
        return None


def _instant(name: str, value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"{name}: not an ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise bad(f"{name}: must carry a time zone, e.g. 2026-11-01T00:00:00Z")
    # Far out, the 90-day window around it cannot be computed; no case is received before 2000.
    if not 2000 <= parsed.year < 9000:
        raise bad(f"{name}: must be between 2000-01-01 and 9000-01-01")
    return parsed


@router.get(
    "/requests.json",
    response_model=list[RequestOut],
    operation_id="open311GetRequests",
    summary="Public service requests (never confidential or restricted ones), newest first",
    dependencies=[Depends(_read_limit)],
    responses={**ERRORS, 404: {"description": "Open311 is off"}},
)
def get_requests(
    facade: FacadeDep,
    services: ServicesDep,
    service_request_id: Annotated[
        str | None, Query(max_length=2000, description="Comma list; overrides the other filters")
    ] = None,
    service_code: Annotated[str | None, Query(max_length=1000, description="Comma list")] = None,
    status: Annotated[str | None, Query(max_length=20, description="open, closed or both")] = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None,
) -> list[RequestOut]:
    if service_request_id is not None:
        wanted = [v for v in service_request_id.split(",") if v.strip()]
        if len(wanted) > MAX_PAGE_SIZE:
            raise bad(f"service_request_id: at most {MAX_PAGE_SIZE} numbers")
        numbers = tuple(n for n in map(_number, wanted) if n is not None)
        query = RequestQuery(numbers=numbers, limit=MAX_PAGE_SIZE)
        return [_request_out(r) for r in facade.listing.find(query)]
    codes = tuple(c.strip() for c in (service_code or "").split(",") if c.strip())
    for code in codes:
        _category(code)
    wanted_status = {s.strip() for s in (status or "").split(",") if s.strip()}
    if wanted_status - {"open", "closed"}:
        raise bad("status: open, closed or both (comma-separated)")
    start, end = _instant("start_date", start_date), _instant("end_date", end_date)
    # The spec's default window: the most recent 90 days, or 90 days from the one bound given.
    if start is None and end is None:
        start = services.clock.now() - MAX_SPAN
    elif start is None:
        assert end is not None
        start = end - MAX_SPAN
    elif end is None:
        end = start + MAX_SPAN
    assert start is not None
    if end is not None:
        if end < start:
            raise bad("end_date: must not be before start_date")
        if end - start > MAX_SPAN:
            raise bad("start_date to end_date: at most 90 days")
    query = RequestQuery(
        categories=codes,
        open=None if len(wanted_status) != 1 else "open" in wanted_status,
        start=start,
        end=end,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return [_request_out(r) for r in facade.listing.find(query)]


@router.get(
    "/requests/{service_request_id}.json",
    response_model=list[RequestOut],
    operation_id="open311GetRequest",
    summary="One public service request (a one-item list, as the spec has it)",
    dependencies=[Depends(_read_limit)],
    responses={
        **ERRORS,
        404: {"description": "No such request, or one the public may not see"},
    },
)
def get_request(
    facade: FacadeDep,
    service_request_id: Annotated[str, Path(max_length=40)],
    jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None,
) -> list[RequestOut]:
    number = _number(service_request_id)
    found = facade.listing.find(RequestQuery(numbers=(number,), limit=1)) if number else []
    if not found:
        raise Problem(
            404, "not-found", "Not found", f"no public service request {service_request_id}"
        )
    return [_request_out(found[0])]
