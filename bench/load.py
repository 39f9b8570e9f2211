"""Load with reconciliation (issue 5): an open-loop mix against aduan on PostgreSQL and Redis.

Starts the API (one uvicorn worker, `aduan serve --api-only`'s app) and the background work
(`aduan work`) as two processes against a throwaway database and a Redis prefix of their own,
drives creates, lifecycle commands, queue/alert/case reads and (when the service has it) public
tracking at ``--rate`` requests/s for ``--duration`` seconds, then reconciles every answer with
the event store and the read models, and reports the projection lag of every accepted write.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import multiprocessing
import os
import platform
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import _common
from _common import PG_SERVER, Server

INTAKE_UNIT = "ULPK-PUSAT"
HANDLING_UNIT = "BBPOM-JAKARTA"
OFFICERS_PER_ROLE = 4
PUBLIC_TRACK_PATH = "/v1/public/complaints/{tracking_number}"
PUBLIC_CREATE_PATH = "/v1/public/complaints"

# The share of each operation in the mix (normalised; public ones only when the service has
# the public side). A "command" is the next lifecycle step of a case created during the run.
DEFAULT_MIX = {
    "create": 20,
    "command": 40,
    "read-case": 15,
    "read-queue": 12,
    "read-alerts": 5,
    "public-create": 3,
    "public-track": 5,
}
# Of the commands: most are the next step with the right If-Match, some are meant to fail.
STALE_SHARE = 0.04  # If-Match one version off: 412, no event
WRONG_STATUS_SHARE = 0.03  # a command the status does not allow, right If-Match: 409, no event
RACE_SHARE = 0.03  # the same command twice at once with the same If-Match: one 2xx, one 412
RETRY_SHARE = 0.05  # of creates: sent again with the same Idempotency-Key once answered
DUPLICATE_SHARE = 0.02  # of creates: sent twice at once with the same key
GIVE_UP_SHARE = 0.03  # of creates: the client hangs up after a few ms, then retries with the key
GIVE_UP_RETRIES = 40  # retries 0.25 s apart while the first is still in flight (409)

KINDS = ["complaint", "information_request", "suggestion"]
CHANNELS = ["phone", "web", "email", "whatsapp", "walk_in", "social_media", "letter"]
CATEGORIES = [
    "obat",
    "obat_tradisional",
    "suplemen_kesehatan",
    "kosmetik",
    "pangan_olahan",
    "yanblik_registrasi",
    "lainnya",
]
FOLLOW_UP_ACTIONS = ["clarification", "coordination", "inspection", "interim_answer", "other"]
CLOSE_OUTCOMES = ["answered", "substantiated", "not_substantiated"]
EVENT_OF = {
    "acknowledge": "Acknowledged",
    "route": "Routed",
    "follow-ups": "FollowedUp",
    "close": "Closed",
}
COMMAND_EVENTS = frozenset(EVENT_OF.values())
# Read models' positions: the SQL views' registry, and the audit chain's last entry.
POSITIONS_QUERY = (
    "SELECT name, position FROM aduan_read_models WHERE live "
    "UNION ALL SELECT 'audit', COALESCE("
    "(SELECT position FROM aduan_audit_chain ORDER BY seq DESC LIMIT 1), 0)"
)


# --- what the client sent and got --------------------------------------------------------


@dataclass
class Call:
    """One HTTP request: its operation, answer (None: no answer) and timing."""

    op: str
    status: int | None
    sent: float  # time.monotonic() when sent
    latency: float  # seconds
    late: float = 0.0  # seconds after its scheduled instant it was sent (open loop)
    error: str | None = None
    expected: tuple[int | None, ...] = (200,)

    @property
    def unexpected(self) -> bool:
        return self.status not in self.expected


@dataclass
class CreateAnswer:
    """A create (officer or public), and what it answered."""

    key: str | None
    sub: str  # the caller ("public" for the public side)
    how: str  # create, retry, duplicate, replay-after-run, resolve, probe, public
    status: int | None
    id: str | None = None
    tracking_number: str | None = None
    position: int | None = None
    version: int | None = None
    pin: str | None = None
    done: float = 0.0


@dataclass
class CommandAnswer:
    case_id: str
    command: str  # acknowledge, route, follow-ups, close
    kind: str  # normal, stale, wrong-status, race
    if_match: int
    status: int | None
    version: int | None = None
    position: int | None = None
    new_status: str | None = None
    done: float = 0.0

    @property
    def event_type(self) -> str:
        return EVENT_OF[self.command]


@dataclass
class Case:
    id: str
    tracking_number: str
    version: int
    status: str
    follow_ups: int = 0
    pin: str | None = None


@dataclass
class Ledger:
    calls: list[Call] = field(default_factory=list)
    creates: list[CreateAnswer] = field(default_factory=list)
    commands: list[CommandAnswer] = field(default_factory=list)
    dropped: int = 0  # scheduled but not sent: too many in flight
    fallbacks: int = 0  # a command was due but no case was ready: sent a create instead


def is_2xx(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


# --- the tokens -----------------------------------------------------------------------------


@dataclass
class Tokens:
    intake: dict[str, str]  # sub -> token (intake_officer of ULPK-PUSAT)
    tech: dict[str, str]  # sub -> token (technical_officer of BBPOM-JAKARTA)


def sign_like(template: str, secret: str, sub: str, roles: list[str], units: list[str]) -> str:
    """A token with the claims of ``template`` (from `aduan token`) but another subject."""
    import jwt

    claims = jwt.decode(template, secret, algorithms=["HS256"], options={"verify_aud": False})
    claims.update(sub=sub, roles=roles, units=units)
    return jwt.encode(claims, secret, algorithm="HS256")


def make_tokens(env: dict[str, str], workdir: Path) -> Tokens:
    secret = env["ADUAN_JWT_SECRET"]
    first = _common.issue_token(env, workdir, "load-intake-1", ["intake_officer"], [INTAKE_UNIT])
    intake = {"load-intake-1": first}
    for n in range(2, OFFICERS_PER_ROLE + 1):
        sub = f"load-intake-{n}"
        intake[sub] = sign_like(first, secret, sub, ["intake_officer"], [INTAKE_UNIT])
    tech = {
        f"load-tech-{n}": sign_like(
            first, secret, f"load-tech-{n}", ["technical_officer"], [HANDLING_UNIT]
        )
        for n in range(1, OFFICERS_PER_ROLE + 1)
    }
    return Tokens(intake, tech)


# --- the load ------------------------------------------------------------------------------


def new_body(rng: random.Random, intake_unit: str | None = INTAKE_UNIT) -> dict[str, Any]:
    number = rng.randrange(10**6)
    body: dict[str, Any] = {
        "kind": rng.choice(KINDS),
        "channel": rng.choice(CHANNELS),
        "category": rng.choice(CATEGORIES),
        "subject": f"Produk tanpa izin edar #{number}",
        "description": f"Pelapor menemukan produk tanpa nomor izin edar di toko ({number}).",
        "reporter": rng.choice(
            [
                None,
                {"name": "Siti Rahma", "email": "siti@example.id", "phone": "+62 812 3456"},
                {"name": "Budi", "email": None, "phone": "+62 811 222", "address": "Jakarta"},
            ]
        ),
        "anonymous": False,
        "confidential": rng.random() < 0.05,
        "needs_inspection": rng.random() < 0.2,
        "intake_unit": intake_unit,
    }
    return body


@dataclass
class PublicSide:
    present: bool
    body_keys: list[str] = field(default_factory=list)
    idempotent: bool = False
    note: str = ""


def public_side(openapi: dict[str, Any]) -> PublicSide:
    """Whether the service serves public tracking, and what its public create takes."""
    paths = openapi.get("paths", {})
    track = paths.get(PUBLIC_TRACK_PATH, {}).get("get")
    create = paths.get(PUBLIC_CREATE_PATH, {}).get("post")
    if track is None:
        return PublicSide(False, note=f"GET {PUBLIC_TRACK_PATH} is not in /openapi.json")
    if create is None:
        return PublicSide(False, note=f"POST {PUBLIC_CREATE_PATH} is not in /openapi.json")
    schema = (
        create.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    )
    schema = resolve(openapi, schema or {})
    properties = list(schema.get("properties", {}))
    required = set(schema.get("required", []))
    known = set(new_body(random.Random(0)))
    if not properties or not required <= known:
        return PublicSide(
            False, note=f"the public create's body needs {sorted(required - known)} (unknown)"
        )
    idempotent = any(
        p.get("name", "").lower() == "idempotency-key" for p in create.get("parameters", [])
    )
    return PublicSide(True, [p for p in properties if p in known], idempotent)


def probe_public(url: str, public: PublicSide, rng: random.Random, ledger: Ledger) -> None:
    """One public create by hand; the public side leaves the mix if it does not answer 2xx."""
    import httpx

    body = {k: v for k, v in new_body(rng).items() if k in public.body_keys}
    if "channel" in body:
        body["channel"] = "web"
    key = uuid.uuid4().hex if public.idempotent else None
    answer = httpx.post(
        url + PUBLIC_CREATE_PATH,
        json=body,
        headers={"Idempotency-Key": key} if key else {},
        timeout=30,
    )
    record = CreateAnswer(key, "public", "public-probe", answer.status_code)
    ledger.creates.append(record)
    if not is_2xx(answer.status_code):
        record.key = None  # refused: nothing to resend
        public.present = False
        public.note = f"a public create answered {answer.status_code}: {answer.text[:200]}"
        return
    data = answer.json()
    record.id = data.get("id")
    record.tracking_number = data.get("tracking_number")
    record.position = data.get("position")


def resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = openapi
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


class Http:
    """A small HTTP/1.1 client on asyncio streams, with keep-alive connections.

    httpx spent most of the client's CPU in its connection pool (its cost grows with the
    connections open), so on a shared 2-core machine the load generator, not the service, set
    the ceiling. This sends what the mix needs (JSON bodies, Content-Length or chunked answers)
    at a small cost per request. A timeout closes the connection: the server sees the client go.
    """

    KEEP_IDLE_SECONDS = 3.0  # uvicorn closes a connection idle for 5 s

    def __init__(self, url: str, timeout: float) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port or 80)
        self.timeout = timeout
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened: set[asyncio.StreamWriter] = set()

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any = None,
        timeout: float | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        for attempt in (1, 2):
            reader, writer, reused = await self._connection()
            answered = False
            try:
                async with asyncio.timeout(timeout or self.timeout):
                    writer.write(head + payload)
                    await writer.drain()
                    status_line = await reader.readline()
                    if not status_line:
                        raise ConnectionResetError("the server closed the connection")
                    answered = True
                    status = int(status_line.split(b" ", 2)[1])
                    answer_headers: dict[str, str] = {}
                    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                        name, _, value = line.decode("latin-1").partition(":")
                        answer_headers[name.strip().lower()] = value.strip()
                    if answer_headers.get("transfer-encoding", "").lower() == "chunked":
                        data = b""
                        while size := int((await reader.readline()).split(b";")[0], 16):
                            data += await reader.readexactly(size)
                            await reader.readline()
                        await reader.readline()
                    else:
                        length = int(answer_headers.get("content-length", 0))
                        data = await reader.readexactly(length)
            except (ConnectionResetError, BrokenPipeError) as error:
                self._close(writer)
                # A kept-alive connection the server closed while idle: it read nothing of
                # this request (uvicorn closes only idle ones), so a new connection may send it.
                if reused and attempt == 1 and not answered:
                    continue
                raise error
            except BaseException:
                self._close(writer)
                raise
            if answer_headers.get("connection", "").lower() == "close":
                self._close(writer)
            else:
                self.idle.append((reader, writer, time.monotonic()))
            return status, answer_headers, data
        raise AssertionError("unreachable")

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        while self.idle:
            reader, writer, since = self.idle.pop()
            if time.monotonic() - since < self.KEEP_IDLE_SECONDS and not reader.at_eof():
                return reader, writer, True
            self._close(writer)
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened.add(writer)
        return reader, writer, False

    def _close(self, writer: asyncio.StreamWriter) -> None:
        self.opened.discard(writer)
        writer.close()

    def close(self) -> None:
        for writer in list(self.opened):
            self._close(writer)
        self.idle.clear()


class Driver:
    """Open loop: requests start at Poisson arrival instants whatever the answers' delays."""

    def __init__(
        self,
        urls: list[str],
        tokens: Tokens,
        public: PublicSide,
        mix: dict[str, float],
        rng: random.Random,
        ledger: Ledger,
        timeout: float,
        max_in_flight: int,
    ) -> None:
        self.urls = urls
        self.tokens = tokens
        self.public = public
        self.ops = [op for op in mix if mix[op] > 0]
        self.weights = [mix[op] for op in self.ops]
        self.rng = rng
        self.ledger = ledger
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.cases: list[Case] = []  # every case created during the run, for reads
        self.ready: list[Case] = []  # open cases with no command in flight
        self.public_cases: list[Case] = []
        self.bodies: dict[tuple[str, str], dict[str, Any]] = {}  # (sub, key) -> body sent
        self.public_bodies: dict[str, dict[str, Any]] = {}  # key -> body of a public create
        self.clients: list[Http] = []
        self.in_flight: set[asyncio.Task[None]] = set()

    # -- plumbing

    async def request(
        self,
        op: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        expected: tuple[int | None, ...] = (200,),
        late: float = 0.0,
        timeout: float | None = None,
        server: int | None = None,
    ) -> tuple[int | None, dict[str, Any]]:
        """One request to one of the API processes (``server``: which; None: any)."""
        if server is None:
            server = self.rng.randrange(len(self.clients))
        client = self.clients[server % len(self.clients)]
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        start = time.monotonic()
        status: int | None = None
        error: str | None = None
        answer: dict[str, Any] = {}
        try:
            status, answer_headers, data = await client.request(
                method, path, sent_headers, body, timeout
            )
            if answer_headers.get("content-type", "").startswith(
                ("application/json", "application/problem+json")
            ):
                with contextlib.suppress(ValueError):
                    answer = json.loads(data)
        except Exception as exc:  # no answer: the outcome is unknown
            error = f"{type(exc).__name__}: {exc}"
        end = time.monotonic()
        self.ledger.calls.append(Call(op, status, start, end - start, late, error, expected))
        return status, answer

    def open_clients(self) -> None:
        self.clients = [Http(url, self.timeout) for url in self.urls]

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    def intake(self) -> tuple[str, str]:
        sub = self.rng.choice(list(self.tokens.intake))
        return sub, self.tokens.intake[sub]

    def tech(self) -> str:
        return self.tokens.tech[self.rng.choice(list(self.tokens.tech))]

    def take_ready(self) -> Case | None:
        if not self.ready:
            return None
        i = self.rng.randrange(len(self.ready))
        self.ready[i], self.ready[-1] = self.ready[-1], self.ready[i]
        return self.ready.pop()

    def give_back(self, case: Case) -> None:
        if case.status != "closed":
            self.ready.append(case)

    # -- the run

    async def run(self, rate: float, duration: float) -> float:
        self.open_clients()
        try:
            start = time.monotonic()
            end = start + duration
            scheduled = start
            while True:
                scheduled += self.rng.expovariate(rate)
                if scheduled >= end:
                    break
                delay = scheduled - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if len(self.in_flight) >= self.max_in_flight:
                    self.ledger.dropped += 1
                    continue
                op = self.rng.choices(self.ops, self.weights)[0]
                self.spawn(self.one(op, scheduled))
            elapsed = time.monotonic() - start
            while self.in_flight:
                await asyncio.gather(*list(self.in_flight), return_exceptions=True)
        finally:
            self.close_clients()
        return elapsed

    async def closed_loop(self, connections: int, seconds: float) -> float:
        """``connections`` clients, each sending the mix one request after the other."""
        self.open_clients()
        try:
            start = time.monotonic()

            async def user() -> None:
                while time.monotonic() < start + seconds:
                    await self.one(self.rng.choices(self.ops, self.weights)[0], time.monotonic())

            await asyncio.gather(*(user() for _ in range(connections)))
            return time.monotonic() - start
        finally:
            self.close_clients()

    async def one(self, op: str, scheduled: float) -> None:
        late = time.monotonic() - scheduled
        if op == "command":
            case = self.take_ready()
            if case is None:
                self.ledger.fallbacks += 1
                op = "create"
            else:
                await self.command(case, late)
                return
        if op == "create":
            await self.create(late)
        elif op == "read-case":
            if self.cases:
                case = self.rng.choice(self.cases)
                _, token = self.intake()
                await self.request(
                    "read-case", "GET", f"/v1/complaints/{case.id}", token=token, late=late
                )
            else:
                await self.read_queue(late)
        elif op == "read-queue":
            await self.read_queue(late)
        elif op == "read-alerts":
            if self.rng.random() < 0.5:
                token, unit = self.intake()[1], INTAKE_UNIT
            else:
                token, unit = self.tech(), HANDLING_UNIT
            await self.request(
                "read-alerts", "GET", f"/v1/sla/alerts?unit={unit}", token=token, late=late
            )
        elif op == "public-create":
            await self.public_create(late)
        elif op == "public-track":
            if self.public_cases:
                case = self.rng.choice(self.public_cases)
                await self.request(
                    "public-track",
                    "GET",
                    PUBLIC_TRACK_PATH.format(tracking_number=case.tracking_number),
                    headers={"X-Tracking-Pin": case.pin or ""},
                    late=late,
                )
            else:
                await self.public_create(late)

    async def read_queue(self, late: float) -> None:
        if self.rng.random() < 0.5:
            token, unit = self.intake()[1], INTAKE_UNIT
        else:
            token, unit = self.tech(), HANDLING_UNIT
        await self.request("read-queue", "GET", f"/v1/queues/{unit}", token=token, late=late)

    # -- creates

    async def send_create(
        self,
        op: str,
        how: str,
        sub: str,
        body: dict[str, Any],
        key: str,
        late: float = 0.0,
        expected: tuple[int | None, ...] = (201,),
        timeout: float | None = None,
        server: int | None = None,
    ) -> CreateAnswer:
        status, answer = await self.request(
            op,
            "POST",
            "/v1/complaints",
            token=self.tokens.intake[sub],
            body=body,
            headers={"Idempotency-Key": key},
            expected=expected,
            late=late,
            timeout=timeout,
            server=server,
        )
        record = CreateAnswer(key, sub, how, status, done=time.monotonic())
        if is_2xx(status):
            record.id = answer.get("id")
            record.tracking_number = answer.get("tracking_number")
            record.position = answer.get("position")
            record.version = answer.get("version")
        self.ledger.creates.append(record)
        return record

    async def create(self, late: float) -> None:
        sub, _ = self.intake()
        body = new_body(self.rng)
        key = uuid.uuid4().hex
        self.bodies[(sub, key)] = body
        draw = self.rng.random()
        if draw < DUPLICATE_SHARE:
            # Two at once with one key: one case; the other answers it again, or 409 in flight.
            first, second = await asyncio.gather(
                *(
                    self.send_create(
                        "create (2 at once)",
                        "duplicate",
                        sub,
                        body,
                        key,
                        late,
                        (201, 409),
                        server=i,
                    )
                    for i in range(2)
                )
            )
            answered = first if is_2xx(first.status) else second
        elif draw < DUPLICATE_SHARE + GIVE_UP_SHARE:
            # The client hangs up after a few ms (the server may or may not store it), then
            # retries with the key until it gets an answer: one case, or none, never two.
            answered = await self.send_create(
                "create, client gives up", "gave-up", sub, body, key, late, (None, 201),
                timeout=self.rng.uniform(0.002, 0.05),
            )  # fmt: skip
            for _ in range(GIVE_UP_RETRIES):
                if answered.status not in (None, 409):
                    break
                await asyncio.sleep(0.25)
                answered = await self.send_create(
                    "create (retry after giving up)", "retry", sub, body, key,
                    expected=(201, 409),
                )  # fmt: skip
        else:
            answered = await self.send_create("create", "create", sub, body, key, late)
        if not is_2xx(answered.status) or answered.id is None:
            return
        case = Case(answered.id, str(answered.tracking_number), 1, "received")
        self.cases.append(case)
        self.ready.append(case)
        if self.rng.random() < RETRY_SHARE:
            await self.send_create("create (retry, same key)", "retry", sub, body, key)

    async def public_create(self, late: float, key: str | None = None, how: str = "public") -> None:
        if key is not None:  # a resend of an unanswered one, with its key and body
            body = self.public_bodies[key]
        else:
            body = {k: v for k, v in new_body(self.rng).items() if k in self.public.body_keys}
            if "channel" in body:
                body["channel"] = "web"
            if self.public.idempotent:
                key = uuid.uuid4().hex
                self.public_bodies[key] = body
        status, answer = await self.request(
            "public-create" if how == "public" else "public-create (resend)",
            "POST",
            PUBLIC_CREATE_PATH,
            body=body,
            headers={"Idempotency-Key": key} if key else {},
            expected=(201, 200),
            late=late,
        )
        record = CreateAnswer(key, "public", how, status)
        record.done = time.monotonic()
        if is_2xx(status):
            record.id = answer.get("id")
            record.tracking_number = answer.get("tracking_number")
            record.position = answer.get("position")
            record.version = answer.get("version")
            record.pin = answer.get("pin")
            if record.tracking_number and record.pin:
                self.public_cases.append(
                    Case(record.id or "", record.tracking_number, 1, "received", pin=record.pin)
                )
        self.ledger.creates.append(record)

    # -- commands

    def next_step(self, case: Case) -> tuple[str, str, dict[str, Any]]:
        """The next lifecycle command of ``case``: (command, token, body)."""
        rng = self.rng
        if case.status == "received":
            return "acknowledge", self.intake()[1], {"message": "Pengaduan Anda kami terima."}
        if case.status == "acknowledged":
            if rng.random() < 0.2:  # a first-contact answer
                body = {"outcome": "answered", "answer": "Produk tersebut tidak terdaftar."}
                return "close", self.intake()[1], body
            body = {"to_unit": HANDLING_UNIT, "note": "Mohon pemeriksaan sarana."}
            if rng.random() < 0.5:
                body["assignee"] = rng.choice(list(self.tokens.tech))
            return "route", self.intake()[1], body
        if case.status == "routed" or (case.follow_ups < 2 and rng.random() < 0.5):
            body = {
                "action": rng.choice(FOLLOW_UP_ACTIONS),
                "note": "Koordinasi dengan dinas kesehatan setempat.",
                "public": rng.random() < 0.5,
            }
            return "follow-ups", self.tech(), body
        body = {"outcome": rng.choice(CLOSE_OUTCOMES), "answer": "Hasil pemeriksaan terlampir."}
        return "close", self.tech(), body

    async def send_command(
        self,
        op: str,
        kind: str,
        case: Case,
        command: str,
        token: str,
        body: dict[str, Any],
        if_match: int,
        expected: tuple[int, ...],
        late: float = 0.0,
        server: int | None = None,
    ) -> CommandAnswer:
        status, answer = await self.request(
            op,
            "POST",
            f"/v1/complaints/{case.id}/{command}",
            token=token,
            body=body,
            headers={"If-Match": f'"{if_match}"'},
            expected=expected,
            late=late,
            server=server,
        )
        record = CommandAnswer(case.id, command, kind, if_match, status, done=time.monotonic())
        if is_2xx(status):
            record.version = answer.get("version")
            record.position = answer.get("position")
            record.new_status = answer.get("status")
        self.ledger.commands.append(record)
        return record

    async def command(self, case: Case, late: float) -> None:
        draw = self.rng.random()
        if draw < STALE_SHARE:
            command, token, body = self.next_step(case)
            stale = case.version - 1 if case.version > 1 else case.version + 1
            answers = [
                await self.send_command(
                    "command, stale If-Match",
                    "stale",
                    case,
                    command,
                    token,
                    body,
                    stale,
                    (412,),
                    late,
                )
            ]
        elif draw < STALE_SHARE + WRONG_STATUS_SHARE:
            if case.status == "received":
                command, body = "route", {"to_unit": HANDLING_UNIT, "note": "Terlalu dini."}
            else:
                command, body = "acknowledge", {"message": "Sudah diterima."}
            answers = [
                await self.send_command(
                    "command, wrong status",
                    "wrong-status",
                    case,
                    command,
                    self.intake()[1],
                    body,
                    case.version,
                    (409,),
                    late,
                )
            ]
        else:
            command, token, body = self.next_step(case)
            if draw < STALE_SHARE + WRONG_STATUS_SHARE + RACE_SHARE:
                answers = list(
                    await asyncio.gather(
                        *(
                            self.send_command(
                                "command, 2 at once",
                                "race",
                                case,
                                command,
                                token,
                                body,
                                case.version,
                                (200, 412),
                                late,
                                server=i,
                            )
                            for i in range(2)
                        )
                    )
                )
            else:
                answers = [
                    await self.send_command(
                        command, "normal", case, command, token, body, case.version, (200,), late
                    )
                ]
        if any(a.status is None or a.status >= 500 for a in answers):
            return  # the outcome is unknown: the case leaves the run
        accepted = [a for a in answers if is_2xx(a.status)]
        if len(accepted) != 1:
            if not all(a.status in (409, 412) for a in answers) or any(
                a.kind == "normal" for a in answers
            ):
                return  # the client's view of the case is off: it leaves the run
        else:
            case.version = accepted[0].version or case.version + 1
            case.status = accepted[0].new_status or case.status
            if accepted[0].command == "follow-ups":
                case.follow_ups += 1
        self.give_back(case)

    # -- after the run

    async def after_run(self, replays: int) -> None:
        """Resolve creates with no answer by resending them with their key (the retry protocol),
        then send a sample of answered creates again: the same case must come back."""
        answers: dict[tuple[str, str], list[CreateAnswer]] = defaultdict(list)
        for record in self.ledger.creates:
            if record.key is not None and record.sub != "public":
                answers[(record.sub, record.key)].append(record)
        unresolved = [k for k, rs in answers.items() if not any(is_2xx(r.status) for r in rs)]
        public: dict[str, list[CreateAnswer]] = defaultdict(list)
        for record in self.ledger.creates:
            if record.key is not None and record.sub == "public":
                public[record.key].append(record)
        public_unresolved = [k for k, rs in public.items() if not any(is_2xx(r.status) for r in rs)]
        answered = [k for k, rs in answers.items() if any(is_2xx(r.status) for r in rs)]
        sample = self.rng.sample(answered, min(replays, len(answered)))
        self.open_clients()
        try:
            for key in public_unresolved:
                if key in self.public_bodies:
                    await self.public_create(0.0, key, "public-resend")
            for sub, key in unresolved:
                await self.send_create(
                    "create (resolve unanswered)", "resolve", sub, self.bodies[(sub, key)], key
                )
            for sub, key in sample:
                await self.send_create(
                    "create (replay after run)",
                    "replay-after-run",
                    sub,
                    self.bodies[(sub, key)],
                    key,
                )
        finally:
            self.close_clients()


# --- projection positions, polled from a process of its own -------------------------------


def poll_positions(database_url: str, interval: float, out: str, stop: Any) -> None:
    """Every ``interval`` s: each read model's position; keeps (time, positions) on change."""
    import psycopg

    samples: list[tuple[float, dict[str, int]]] = []
    periods: list[float] = []
    last: dict[str, int] | None = None
    with psycopg.connect(database_url, autocommit=True) as conn:
        previous = None
        while not stop.is_set():
            began = time.monotonic()
            rows = conn.execute(POSITIONS_QUERY).fetchall()
            seen = time.monotonic()  # after the answer: an upper bound of when it held
            positions = {str(name): int(position) for name, position in rows}
            if positions != last:
                samples.append((seen, positions))
                last = positions
            if previous is not None:
                periods.append(seen - previous)
            previous = seen
            time.sleep(max(0.0, interval - (time.monotonic() - began)))
    Path(out).write_text(json.dumps({"samples": samples, "periods": periods}))


class Poller:
    def __init__(self, database_url: str, interval: float, workdir: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.out = workdir / "positions.json"
        self.stop_event = context.Event()
        self.process = context.Process(
            target=poll_positions,
            args=(database_url, interval, str(self.out), self.stop_event),
            name="aduan-load-poller",
            daemon=True,
        )

    def start(self) -> None:
        self.process.start()

    def finish(self) -> dict[str, Any]:
        self.stop_event.set()
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()
            raise RuntimeError("the position poller did not stop")
        if self.process.exitcode != 0:
            raise RuntimeError(f"the position poller failed (exit code {self.process.exitcode})")
        return dict(json.loads(self.out.read_text()))

    def kill(self) -> None:
        if self.process.is_alive():
            self.stop_event.set()
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()


def positions(database_url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        return {str(n): int(p) for n, p in conn.execute(POSITIONS_QUERY).fetchall()}


def wait_caught_up(database_url: str, target: int, timeout: float, workers: list[Server]) -> float:
    """Until every read model reached ``target``; the seconds it took."""
    start = time.monotonic()
    while True:
        now = positions(database_url)
        if now and min(now.values()) >= target:
            return time.monotonic() - start
        for worker in workers:
            worker.check_alive()
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"read models still behind {target} after {timeout:.0f} s: {now}")
        time.sleep(0.05)


def lags(
    samples: list[tuple[float, dict[str, int]]], writes: Iterable[tuple[float, int]]
) -> tuple[dict[str, list[float]], int]:
    """Per read model (and "all"), seconds from each write's answer until the model reached its
    position; and how many writes some model never reached while polled."""
    names = sorted({n for _, p in samples for n in p})
    series: dict[str, tuple[list[float], list[int]]] = {}
    for name in names:
        times: list[float] = []
        reached: list[int] = []
        high = -1
        for t, p in samples:
            if name in p and p[name] > high:
                high = p[name]
                times.append(t)
                reached.append(high)
        series[name] = (times, reached)
    result: dict[str, list[float]] = {name: [] for name in [*names, "all"]}
    missed = 0
    for done, position in writes:
        worst = 0.0
        for name in names:
            times, reached = series[name]
            i = bisect.bisect_left(reached, position)
            if i == len(reached):
                missed += 1
                break
            lag = max(0.0, times[i] - done)
            result[name].append(lag)
            worst = max(worst, lag)
        else:
            result["all"].append(worst)
    return result, missed


# --- the intake ceiling ----------------------------------------------------------------------


def find_ceiling(
    api: Server, token: str, seconds: int, connections: int, workdir: Path
) -> tuple[float, str, int, int]:
    """Closed-loop creates at ``connections`` for ``seconds``: (creates/s, tool, 201s, cut off).

    With wrk, as bench/intake.py measures intake.
    """
    if shutil.which("wrk"):
        import intake  # bench/intake.py, beside this script

        script = workdir / "ceiling.lua"
        script.write_text(intake.LUA_TEMPLATE.format(body=json.dumps(intake.BODY), token=token))
        warm = intake.run_wrk(api, script, connections, 2, "warm-up")  # type: ignore[arg-type]
        run = intake.run_wrk(api, script, connections, seconds, "ceiling")  # type: ignore[arg-type]
        if run.non2xx or run.socket_errors:
            say(f"  ceiling: {run.non2xx} non-2xx, socket errors {run.errors}")
        wall = run.responses / run.rps if run.rps else seconds
        created = warm.created + run.created
        return run.created / wall, "wrk", created, warm.in_flight + run.in_flight
    raise RuntimeError("--find-ceiling creates needs wrk: apt-get install -y wrk")


# --- reconciliation --------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A value of a stored event's JSON, without the transcoder's type wrapper."""
    while isinstance(value, dict) and "_data_" in value:
        value = value["_data_"]
    return value


def case_id_of(value: Any) -> str:
    """A stored UUID (the transcoder may keep it as hex) in its usual text form."""
    value = plain(value)
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def canonical_tn(number: str | None) -> str:
    return (number or "").replace("-", "").upper()


@dataclass
class Stored:
    """What the event store and the read models hold."""

    events: dict[str, dict[int, tuple[str, int]]]  # case id -> version -> (type, position)
    received_tn: dict[str, str]  # case id -> tracking number in its Received event
    index: list[tuple[str, str]]  # (complaint id, tracking number) per index Assigned event
    queue_rows: dict[str, tuple[int, str]]  # case id -> (version, status) in the queue model
    audit: Counter[tuple[str, int, int]]  # (originator id, version, position) entries


def load_stored(database_url: str) -> Stored:
    import psycopg

    events: dict[str, dict[int, tuple[str, int]]] = defaultdict(dict)
    received_tn: dict[str, str] = {}
    index: list[tuple[str, str]] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT originator_id, originator_version, topic, notification_id, state "
            f"FROM {_common.EVENTS_TABLE} ORDER BY notification_id"
        ).fetchall()
        for originator, version, topic, position, state in rows:
            name = topic.rpartition(":")[2]  # e.g. Complaint.Received
            aggregate, _, event = name.partition(".")
            if aggregate == "Complaint":
                events[str(originator)][version] = (event, position)
                if event == "Received":
                    received_tn[str(originator)] = plain(json.loads(state)["tracking_number"])
            elif aggregate == "TrackingNumberIndex":
                data = json.loads(state)
                index.append((case_id_of(data["complaint_id"]), plain(data["tracking_number"])))
        generation = conn.execute(
            "SELECT generation FROM aduan_read_models WHERE name = 'queues' AND live"
        ).fetchone()
        queue_rows: dict[str, tuple[int, str]] = {}
        if generation is not None:
            table = f"rm_queues_items_g{int(generation[0])}"
            for case_id, version, status in conn.execute(
                f"SELECT id, version, status FROM {table}"
            ).fetchall():
                queue_rows[str(case_id)] = (int(version), str(status))
        audit: Counter[tuple[str, int, int]] = Counter(
            (str(o), int(v), int(p))
            for o, v, p in conn.execute(
                "SELECT originator_id, version, position FROM aduan_audit_chain"
            ).fetchall()
        )
    return Stored(dict(events), received_tn, index, queue_rows, audit)


@dataclass
class Verdict:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append((name, ok, detail))

    def problem(self, name: str, text: str) -> None:
        self.problems[name].append(text)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def reconcile(stored: Stored, ledger: Ledger, burst: set[str]) -> Verdict:
    """Every 2xx create exactly one stored case, every 2xx command exactly one event.

    ``burst``: the cases the ceiling burst stored (its tool counts answers, keeps no ids).
    """
    verdict = Verdict()
    events = stored.events
    index_by_case: dict[str, list[str]] = defaultdict(list)
    case_by_tn: dict[str, str] = {}
    for case_id, number in stored.index:
        index_by_case[case_id].append(number)
        case_by_tn[canonical_tn(number)] = case_id

    # -- creates
    creates = [c for c in ledger.creates if is_2xx(c.status)]
    for c in creates:
        if c.id is None and c.tracking_number:  # a public create answers its number only
            c.id = case_by_tn.get(canonical_tn(c.tracking_number))
    claims: dict[str, list[CreateAnswer]] = defaultdict(list)
    by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in creates:
        if c.id is None:
            verdict.problem("creates", f"2xx create with no case found: {c}")
            continue
        claims[c.id].append(c)
        if c.key is not None:
            by_key[(c.sub, c.key)].add(c.id)
    split = {k: ids for k, ids in by_key.items() if len(ids) > 1}
    for (sub, key), ids in split.items():
        verdict.problem("doubled", f"key {key} of {sub} answered {len(ids)} cases: {sorted(ids)}")
    for case_id, answers in claims.items():
        keys = {(a.sub, a.key) for a in answers}
        if len(keys) > 1 or (None in {a.key for a in answers} and len(answers) > 1):
            verdict.problem("doubled", f"{case_id} answered to {len(answers)} different creates")
        stored_events = events.get(case_id, {})
        first = stored_events.get(1)
        if first is None or first[0] != "Received":
            verdict.problem("lost", f"2xx create {case_id} has no Received event (v1: {first})")
            continue
        tn = canonical_tn(stored.received_tn.get(case_id))
        numbers = index_by_case.get(case_id, [])
        if len(numbers) != 1 or canonical_tn(numbers[0]) != tn:
            verdict.problem("tracking", f"{case_id}: index entries {numbers}, Received has {tn}")
        for a in answers:
            if a.tracking_number and canonical_tn(a.tracking_number) != tn:
                verdict.problem("tracking", f"{case_id}: answered {a.tracking_number}, stored {tn}")
            if a.position is not None and a.position != first[1]:
                verdict.problem(
                    "position",
                    f"{case_id}: create answered position {a.position}, Received is at {first[1]}",
                )
    run_cases = {cid for cid, rs in events.items() if 1 in rs and rs[1][0] == "Received"} - burst
    extra = run_cases - set(claims)
    # A public create without a key that got no answer cannot be resent: it may be stored.
    unkeyed = sum(1 for c in ledger.creates if c.key is None and not is_2xx(c.status)
                  and (c.status is None or c.status >= 500))  # fmt: skip
    for case_id in sorted(extra):
        if len(extra) <= unkeyed:
            verdict.problem("unanswered, unkeyed, stored", f"case {case_id}")
        else:
            verdict.problem("extra", f"case {case_id} stored, but no create was answered 2xx")
    orphans = set(index_by_case) - set(events)
    for case_id in sorted(orphans):
        verdict.problem("tracking", f"tracking-number index names {case_id}, which has no events")
    keyed = {k for k in by_key}
    sent_keys = {(c.sub, c.key) for c in ledger.creates if c.key is not None}
    never = sorted(sent_keys - keyed)
    for sub, key in never:
        statuses_seen = [c.status for c in ledger.creates if (c.sub, c.key) == (sub, key)]
        verdict.problem("stuck keys", f"key {key} of {sub}: never a 2xx, answers {statuses_seen}")
    retried = [c for c in creates if c.how in ("retry", "replay-after-run", "duplicate")]
    verdict.check(
        "every 2xx create is exactly one stored case",
        not (verdict.problems["lost"] or verdict.problems["extra"] or verdict.problems["creates"]),
        f"{len(creates)} 2xx creates ({len(retried)} of them repeats with a key) for "
        f"{len(claims)} cases; {len(run_cases)} cases stored (besides the ceiling burst's); "
        f"{len(verdict.problems['lost'])} lost, {len(verdict.problems['extra'])} extra",
    )
    verdict.check(
        "no duplicates from repeated keys",
        not verdict.problems["doubled"],
        f"{len(keyed)} keys answered 2xx, {len(split)} answered more than one case",
    )
    verdict.check(
        "every key sent ends with its case (none stuck in flight; the stragglers resent after "
        "the run)",
        not never,
        f"{len(sent_keys)} keys sent, {len(never)} never answered 2xx",
    )
    verdict.check(
        "tracking numbers and positions of creates match the store",
        not (verdict.problems["tracking"] or verdict.problems["position"]),
        f"{len(verdict.problems['tracking'])} tracking, "
        f"{len(verdict.problems['position'])} position mismatches",
    )

    # -- commands
    accepted = [c for c in ledger.commands if is_2xx(c.status)]
    refused = [c for c in ledger.commands if c.status is not None and 400 <= c.status < 500]
    unknown = [c for c in ledger.commands if c.status is None or c.status >= 500]
    claimed: dict[tuple[str, int], list[CommandAnswer]] = defaultdict(list)
    for c in accepted:
        if c.version is None:
            verdict.problem("commands", f"2xx command without a version: {c}")
            continue
        claimed[(c.case_id, c.version)].append(c)
    for (case_id, version), answers in claimed.items():
        if len(answers) > 1:
            verdict.problem(
                "doubled events", f"{len(answers)} 2xx commands claim {case_id} v{version}"
            )
        found = events.get(case_id, {}).get(version)
        a = answers[0]
        if found is None:
            verdict.problem("lost events", f"2xx {a.command} {case_id} v{version}: no event")
        elif found[0] != a.event_type:
            verdict.problem(
                "lost events", f"2xx {a.command} {case_id} v{version}: stored {found[0]}"
            )
        elif a.position is not None and a.position != found[1]:
            verdict.problem(
                "position",
                f"{a.command} {case_id} v{version}: answered position "
                f"{a.position}, stored at {found[1]}",
            )
    explained = {(c.case_id, c.if_match + 1, c.event_type) for c in unknown}
    unclaimed = 0
    for case_id in sorted(claims):
        for version, (event, _) in sorted(events.get(case_id, {}).items()):
            if version == 1 or (case_id, version) in claimed:
                continue
            if (case_id, version, event) in explained:
                continue
            if event not in COMMAND_EVENTS:  # the service's own (a timer's), not a client's
                verdict.problem("service events", f"{case_id} v{version} {event}")
                continue
            unclaimed += 1
            verdict.problem(
                "extra events", f"{case_id} v{version} {event}: no 2xx command answered it"
            )
        versions = sorted(events.get(case_id, {}))
        if versions != list(range(1, len(versions) + 1)):
            verdict.problem("extra events", f"{case_id}: versions {versions} are not 1..n")
    verdict.check(
        "every 2xx command is exactly one event",
        not (
            verdict.problems["lost events"]
            or verdict.problems["doubled events"]
            or verdict.problems["commands"]
        ),
        f"{len(accepted)} 2xx commands, {len(claimed)} (case, version) pairs; "
        f"{len(verdict.problems['lost events'])} lost, "
        f"{len(verdict.problems['doubled events'])} doubled",
    )
    refused_by = Counter(c.status for c in refused)
    verdict.check(
        "refused commands left no event (no event without a 2xx)",
        not verdict.problems["extra events"],
        f"{len(refused)} refused ({', '.join(f'{s}: {n}' for s, n in sorted(refused_by.items()))}"
        f"), {len(unknown)} with no answer; {unclaimed} events no 2xx command answered; "
        f"{len(verdict.problems['service events'])} events of other types (the service's own)",
    )
    races = defaultdict(list)
    for c in ledger.commands:
        if c.kind == "race":
            races[(c.case_id, c.if_match)].append(c)
    both = sum(1 for pair in races.values() if sum(is_2xx(c.status) for c in pair) > 1)
    verdict.check(
        "two commands on one version: exactly one wins",
        both == 0,
        f"{len(races)} pairs sent at once, {both} with two 2xx",
    )
    position_ok = not verdict.problems["position"]
    if not position_ok:
        verdict.check("answered positions are the stored events' positions", False, "see below")

    # -- read models (caught up to the last answered position before this runs)
    all_cases = {cid for cid, rs in events.items() if 1 in rs}
    wrong_rows = 0
    for case_id in sorted(all_cases):
        last = max(events[case_id])
        row = stored.queue_rows.get(case_id)
        if row is None or row[0] != last:
            wrong_rows += 1
            verdict.problem("read models", f"queues: {case_id} at {row}, the store at v{last}")
    extra_rows = set(stored.queue_rows) - all_cases
    for case_id in sorted(extra_rows):
        verdict.problem("read models", f"queues: a row for {case_id}, which has no events")
    verdict.check(
        "queue read model: one row per case, at its last version",
        wrong_rows == 0 and not extra_rows,
        f"{len(stored.queue_rows)} rows for {len(all_cases)} cases; {wrong_rows} missing or "
        f"behind, {len(extra_rows)} extra",
    )
    expected_audit = Counter((cid, v, p) for cid, rs in events.items() for v, (_, p) in rs.items())
    audited = Counter({k: n for k, n in stored.audit.items() if k[0] in events})
    missing_audit = expected_audit - audited
    doubled_audit = audited - expected_audit
    for key in list(missing_audit)[:20]:
        verdict.problem("read models", f"audit: no entry for {key}")
    for key in list(doubled_audit)[:20]:
        verdict.problem("read models", f"audit: unexpected or repeated entry {key}")
    verdict.check(
        "audit trail: one entry per case event",
        not missing_audit and not doubled_audit,
        f"{sum(audited.values())} entries for {sum(expected_audit.values())} case events; "
        f"{sum(missing_audit.values())} missing, {sum(doubled_audit.values())} extra",
    )
    return verdict


# --- the report ------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.1f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    ]
    for row in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def statuses(calls: list[Call]) -> str:
    counted = Counter("no answer" if c.status is None else str(c.status) for c in calls)
    return " ".join(f"{s}:{n}" for s, n in sorted(counted.items()))


def operations_report(calls: list[Call], elapsed: float) -> str:
    by_op: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        by_op[call.op].append(call)
    rows = []
    for op, group in sorted(by_op.items(), key=lambda kv: -len(kv[1])):
        latencies = [c.latency for c in group]
        rows.append(
            [
                op,
                str(len(group)),
                f"{len(group) / elapsed:.1f}",
                ms(pct(latencies, 50)),
                ms(pct(latencies, 95)),
                ms(pct(latencies, 99)),
                ms(max(latencies)),
                statuses(group),
                str(sum(c.unexpected for c in group)),
            ]
        )
    latencies = [c.latency for c in calls]
    rows.append(
        [
            "all",
            str(len(calls)),
            f"{len(calls) / elapsed:.1f}",
            ms(pct(latencies, 50)),
            ms(pct(latencies, 95)),
            ms(pct(latencies, 99)),
            ms(max(latencies, default=float("nan"))),
            "",
            str(sum(c.unexpected for c in calls)),
        ]
    )
    headers = [
        "operation",
        "count",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "statuses",
        "unexpected",
    ]
    return table(headers, rows)


def lag_report(result: dict[str, list[float]]) -> str:
    rows = [
        [
            name,
            str(len(values)),
            ms(pct(values, 50)),
            ms(pct(values, 95)),
            ms(pct(values, 99)),
            ms(max(values, default=float("nan"))),
        ]
        for name, values in result.items()
    ]
    return table(["read model", "writes", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows)


def facts() -> dict[str, str]:
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("eventsourcing", "fastapi", "uvicorn", "psycopg", "psycopg-binary")
    )
    return {
        "cpus": f"{len(os.sched_getaffinity(0))} ({_common.cpu_model()})",
        "postgresql": str(_common.scalar(f"{PG_SERVER}/postgres", "SHOW server_version")),
        "python": platform.python_version(),
        "packages": versions,
    }


# --- orchestration -----------------------------------------------------------------------------


@dataclass
class Resources:
    """What the run created, for the clean-up."""

    database: str
    redis_prefix: str
    servers: list[Server] = field(default_factory=list)
    poller: Poller | None = None
    created_database: bool = False


def redis_client() -> Any:
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_timeout=5)


REDIS_URL = "redis://127.0.0.1:6379/0"


def delete_redis_keys(prefix: str) -> int:
    assert prefix.startswith("aduan_load_") and prefix.endswith(":"), prefix
    client = redis_client()
    deleted = 0
    batch = []
    for key in client.scan_iter(match=f"{prefix}*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted


def parse_mix(text: str | None, public: bool) -> dict[str, float]:
    mix = dict(DEFAULT_MIX)
    if text:
        for part in text.split(","):
            name, _, value = part.partition("=")
            if name.strip() not in mix:
                raise SystemExit(f"--mix: unknown operation {name!r}; known: {sorted(mix)}")
            mix[name.strip()] = float(value)
    if not public:
        mix["public-create"] = mix["public-track"] = 0
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items()}


def say(text: str = "") -> None:
    print(text, flush=True)


def benchmark(args: argparse.Namespace, workdir: Path, res: Resources) -> int:
    import httpx

    database_url = f"{PG_SERVER}/{res.database}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ADUAN_")}
    env = base_env | {
        "ADUAN_DATABASE_URL": database_url,
        "ADUAN_JWT_SECRET": secrets.token_urlsafe(48),
        "ADUAN_VAR_DIR": str(workdir / "var"),
        "ADUAN_REDIS_URL": REDIS_URL,
        "ADUAN_REDIS_PREFIX": res.redis_prefix,
        # A handful of officers send everything: the per-caller limit stays on (its buckets
        # live in Redis, one Lua call per create) but high enough never to answer 429.
        "ADUAN_RATE_LIMIT_PER_MINUTE": "1000000",
        "ADUAN_RATE_LIMIT_BURST": "1000000",
    }
    if args.source is not None:  # aduan's packages from another tree, e.g. a `git archive`
        path = [str(args.source.resolve()), os.environ.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    load_at_start = _common.loadavg()
    tokens = make_tokens(env, workdir)  # the first `aduan token` also creates the tables
    apis = [
        _common.start_uvicorn(f"api-{n}", "_common:aduan_app", "/readyz", env, workdir)
        for n in range(1, args.api_processes + 1)
    ]
    res.servers += apis
    workers = [
        _common.start_process(f"worker-{n}", [_common.aduan_executable(), "work"], env, workdir)
        for n in range(1, args.workers + 1)
    ]
    res.servers += workers
    for api in apis:
        api.wait_ready()
    for worker in workers:
        worker.check_alive()
    api = apis[0]
    openapi = httpx.get(api.url + "/openapi.json", timeout=30).json()
    public = public_side(openapi)
    res.poller = Poller(database_url, args.poll_ms / 1000, workdir)
    res.poller.start()

    rng = random.Random(args.seed)
    ledger = Ledger()
    if public.present:
        probe_public(api.url, public, rng, ledger)
    mix = parse_mix(args.mix, public.present)
    driver = Driver(
        [a.url for a in apis], tokens, public, mix, rng, ledger, args.timeout, args.max_in_flight
    )

    # A first create by hand: the body and token work, and the worker takes it in.
    sub, token = next(iter(tokens.intake.items()))
    probe_body = new_body(rng)
    key = uuid.uuid4().hex
    answer = httpx.post(
        api.url + "/v1/complaints",
        json=probe_body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        timeout=30,
    )
    if answer.status_code != 201:
        raise RuntimeError(f"probe create answered {answer.status_code}: {answer.text}")
    data = answer.json()
    driver.bodies[(sub, key)] = probe_body
    ledger.creates.append(
        CreateAnswer(
            key,
            sub,
            "probe",
            201,
            data["id"],
            data["tracking_number"],
            data["position"],
            data["version"],
            done=time.monotonic(),
        )
    )
    wait_caught_up(database_url, data["position"], 60, workers)
    if public.present:
        say("public tracking: present; the mix includes public creates and tracking reads")
    else:
        say(f"public tracking: ABSENT ({public.note}); left out of the mix")

    ceiling_check: tuple[str, bool, str] | None = None
    ceiling_cases: set[str] = set()
    rate = args.rate
    if args.ceiling:
        ceiling, what = args.ceiling, "given with --ceiling"
    elif args.find_ceiling == "mix":
        say(
            f"measuring the ceiling: the same mix, closed loop, {args.ceiling_connections} "
            f"clients, {args.ceiling_seconds} s ..."
        )
        first = len(ledger.calls)
        seconds = asyncio.run(driver.closed_loop(args.ceiling_connections, args.ceiling_seconds))
        burst = ledger.calls[first:]
        ceiling = len(burst) / seconds
        what = (
            f"requests/s of the mix, closed loop at {args.ceiling_connections} clients; p50 "
            f"{ms(pct([c.latency for c in burst], 50))} ms, p99 "
            f"{ms(pct([c.latency for c in burst], 99))} ms, "
            f"{sum(c.unexpected for c in burst)} unexpected answers"
        )
        took = wait_caught_up(database_url, int(_common.scalar(database_url, HEAD)), 300, workers)
        say(f"  the read models caught up {took:.1f} s after the burst")
    elif args.find_ceiling == "creates":
        say(
            f"measuring the intake ceiling: closed-loop creates, {args.ceiling_connections} "
            f"connections, {args.ceiling_seconds} s ..."
        )
        before = stored_case_ids(database_url)
        ceiling, tool, created, cut_off = find_ceiling(
            api, token, args.ceiling_seconds, args.ceiling_connections, workdir
        )
        what = f"creates/s, {tool}, {args.ceiling_connections} connections"
        stored_count = settled_count(database_url) - len(before)
        ceiling_cases = stored_case_ids(database_url) - before
        ceiling_check = (
            "the ceiling burst (no keys, answers counted by the tool): 201s <= stored <= "
            "201s + cut off",
            created <= stored_count <= created + cut_off,
            f"{created} 201s, {cut_off} cut off in flight, {stored_count} stored",
        )
        took = wait_caught_up(database_url, int(_common.scalar(database_url, HEAD)), 300, workers)
        say(f"  the read models caught up {took:.1f} s after the burst")
    if args.find_ceiling or args.ceiling:
        rate = ceiling * args.ceiling_fraction
        say(
            f"ceiling: {ceiling:.1f} ({what}); running at {args.ceiling_fraction:g} x = "
            f"{rate:.1f} requests/s"
        )
    run_from = len(ledger.calls)
    run_start = time.monotonic()

    say(
        f"open-loop mix at {rate:.1f} requests/s for {args.duration} s: "
        + ", ".join(f"{k} {v:.0%}" for k, v in mix.items() if v)
    )
    load_before_run = _common.loadavg()
    elapsed = asyncio.run(driver.run(rate, args.duration))
    load_after_run = _common.loadavg()
    run_calls = ledger.calls[run_from:]
    asyncio.run(driver.after_run(args.replays))
    for server in res.servers:
        server.check_alive()

    # First answers only: a repeat answers the first create's position again.
    writes = [
        (c.done, c.position)
        for c in ledger.creates
        if is_2xx(c.status)
        and c.position is not None
        and c.how in ("create", "public")
        and c.done >= run_start
    ]
    command_writes = [
        (c.done, c.position)
        for c in ledger.commands
        if is_2xx(c.status) and c.position is not None and c.done >= run_start
    ]
    target = max((p for _, p in [*writes, *command_writes]), default=0)
    wait_caught_up(database_url, target, 120, workers)
    time.sleep(max(0.05, 3 * args.poll_ms / 1000))  # one more sample past the target
    polled = res.poller.finish()
    res.poller = None
    samples = [(float(t), {str(k): int(v) for k, v in p.items()}) for t, p in polled["samples"]]
    periods = [float(x) for x in polled["periods"]]
    command_lags, missed_c = lags(samples, command_writes)
    create_writes = writes
    create_lags, missed_w = lags(samples, create_writes)
    all_lags, _ = lags(samples, [*create_writes, *command_writes])

    stored = load_stored(database_url)
    verdict = reconcile(stored, ledger, ceiling_cases)
    if ceiling_check is not None:
        verdict.checks.insert(0, ceiling_check)

    # -- report
    say()
    say(f"== operations (open loop, {rate:.1f} req/s scheduled, {elapsed:.1f} s) ==")
    say(operations_report(run_calls, elapsed))
    lateness = [c.late for c in run_calls]
    say(
        f"client: {len(run_calls)} requests sent; scheduled-to-sent delay p50 "
        f"{ms(pct(lateness, 50))} ms, p99 {ms(pct(lateness, 99))} ms, max "
        f"{ms(max(lateness, default=float('nan')))} ms; {ledger.dropped} not sent (more than "
        f"{args.max_in_flight} in flight); {ledger.fallbacks} commands became creates (no case "
        "ready)"
    )
    after = [c for c in ledger.calls[len(run_calls) :]]
    if after:
        say(
            "after the run (not in the figures above): "
            + ", ".join(
                f"{op} {statuses([c for c in after if c.op == op])}"
                for op in sorted({c.op for c in after})
            )
        )
    say()
    say("== projection lag: 2xx answer -> every read model's position at the answer's position ==")
    say(f"-- lifecycle commands ({len(command_writes)}):")
    say(lag_report(command_lags))
    say(f"-- creates ({len(create_writes)}):")
    say(lag_report({"all": create_lags["all"]}))
    say(f"-- all writes ({len(all_lags['all'])}):")
    say(lag_report({"all": all_lags["all"]}))
    p99 = pct(all_lags["all"], 99)
    goal = "met" if p99 <= 0.2 else "NOT met"
    say(f"goal p99 <= 200 ms (all writes, all read models): {ms(p99)} ms, {goal}")
    say(
        f"polling every {args.poll_ms:g} ms from its own process and connection; achieved period "
        f"p50 {ms(pct(periods, 50))} ms, p99 {ms(pct(periods, 99))} ms (the resolution); "
        f"{missed_c + missed_w} writes never seen reached"
    )
    say()
    say("== reconciliation ==")
    for name, ok, detail in verdict.checks:
        say(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}")
    for name, texts in verdict.problems.items():
        if texts:
            say(f"  {name} ({len(texts)}):")
            for text in texts[:10]:
                say(f"    {text}")
            if len(texts) > 10:
                say(f"    ... and {len(texts) - 10} more")
    say(f"RECONCILIATION: {'PASS' if verdict.ok else 'FAIL'}")
    say()
    unexpected = [c for c in run_calls if c.unexpected]
    errors = [c.error for c in run_calls if c.error and c.unexpected]
    if errors:
        say(f"transport errors ({len(errors)}): " + "; ".join(sorted(set(errors))[:5]))
    for key, value in facts().items():
        say(f"{key:>11}: {value}")
    say(
        f"{'load':>11}: {load_at_start} at start, {load_before_run} before the run, "
        f"{load_after_run} at its end (1/5/15-min load average; the machine is shared)"
    )
    say(f"{'date':>11}: {datetime.now(UTC).isoformat(timespec='seconds')}")
    if not verdict.ok:
        return 1
    if unexpected:
        say(f"FLAGGED: {len(unexpected)} unexpected responses (see 'unexpected' above)")
        return 3
    return 0


RECEIVED_COUNT = (
    f"SELECT count(*) FROM {_common.EVENTS_TABLE} WHERE topic LIKE '%Complaint.Received'"
)
# The last case event (the audit trail's position moves only with case events).
HEAD = f"SELECT max(notification_id) FROM {_common.EVENTS_TABLE} WHERE topic LIKE '%:Complaint.%'"


def settled_count(database_url: str, timeout: float = 15.0) -> int:
    """Received events stored, once the requests a closed-loop tool cut off have finished."""
    last = int(_common.scalar(database_url, RECEIVED_COUNT))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = int(_common.scalar(database_url, RECEIVED_COUNT))
        if now == last:
            return now
        last = now
    return last


def stored_case_ids(database_url: str) -> set[str]:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT originator_id FROM {_common.EVENTS_TABLE} "
            "WHERE topic LIKE '%Complaint.Received'"
        ).fetchall()
    return {str(r[0]) for r in rows}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s (all operations)")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument(
        "--find-ceiling",
        nargs="?",
        const="mix",
        choices=["mix", "creates"],
        help="first measure the ceiling, closed loop: of the mix (default) or of creates alone "
        "(wrk, as bench/intake.py); then run at --ceiling-fraction of it",
    )
    parser.add_argument("--ceiling", type=float, help="a ceiling known already (requests/s)")
    parser.add_argument("--ceiling-fraction", type=float, default=0.5)
    parser.add_argument("--ceiling-seconds", type=int, default=10)
    parser.add_argument("--ceiling-connections", type=int, default=32)
    parser.add_argument("--mix", help="weights, e.g. create=20,command=40,read-case=15,...")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--poll-ms", type=float, default=5.0, help="position polling period")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--max-in-flight", type=int, default=512)
    parser.add_argument("--replays", type=int, default=50, help="creates replayed after the run")
    parser.add_argument(
        "--api-processes", type=int, default=1, help="API processes (uvicorn, one worker each)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="`aduan work` processes (one holds each lock)"
    )
    parser.add_argument(
        "--source",
        type=Path,
        help="import aduan from this tree (first on PYTHONPATH) instead of the installed one",
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the API's and worker's logs here")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration < 1 or not 0 < args.ceiling_fraction <= 1:
        parser.error("--rate > 0, --duration >= 1, 0 < --ceiling-fraction <= 1")
    if args.source is not None and not (args.source / "interfaces" / "bootstrap.py").exists():
        parser.error(f"--source {args.source}: no interfaces/bootstrap.py there")
    if args.api_processes < 1 or args.workers < 1:
        parser.error("--api-processes and --workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        redis_client().ping()
    except Exception as error:
        print(f"Redis does not answer on {REDIS_URL}: {error}", file=sys.stderr)
        return 2
    hex_id = secrets.token_hex(4)
    res = Resources(database=f"aduan_load_{hex_id}", redis_prefix=f"aduan_load_{hex_id}:")
    with _common.sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="aduan-load-") as tmp:
        try:
            _common.create_database(res.database)
            res.created_database = True
            say(f"database {res.database}, Redis prefix {res.redis_prefix}")
            return benchmark(args, Path(tmp), res)
        except KeyboardInterrupt:
            print("\ninterrupted; cleaning up", file=sys.stderr)
            return 130
        except Exception as error:
            print(f"load benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
            for server in res.servers:
                tail = server.log_tail(15)
                if tail:
                    print(f"--- {server.name} log (last lines):\n{tail}", file=sys.stderr)
            return 1
        finally:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
            try:
                clean_up(res)
                if args.keep_logs is not None:
                    args.keep_logs.mkdir(parents=True, exist_ok=True)
                    for log in Path(tmp).glob("*.log"):
                        shutil.copy(log, args.keep_logs / log.name)
                    print(f"logs copied to {args.keep_logs}", file=sys.stderr)
            finally:
                signal.signal(signal.SIGINT, previous)


def clean_up(res: Resources) -> None:
    steps: list[tuple[str, Callable[[], Any]]] = []
    if res.poller is not None:
        steps.append(("poller", res.poller.kill))
    steps += [(f"stop {s.name}", s.stop) for s in res.servers]
    if res.created_database:
        steps.append(("drop database", lambda: _common.drop_database(res.database)))
    steps.append(("Redis keys", lambda: delete_redis_keys(res.redis_prefix)))
    for name, step in steps:
        try:
            outcome = step()
        except Exception as error:  # go on: the next steps must still run
            print(f"clean-up: {name} failed: {error}", file=sys.stderr)
        else:
            if name == "drop database":
                print(f"dropped database {res.database}", file=sys.stderr)
            elif name == "Redis keys":
                print(f"deleted {outcome} Redis keys under {res.redis_prefix}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
