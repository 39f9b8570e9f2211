"""Messaging gateways end to end: a fake gateway signs and POSTs messages to aduan served by
uvicorn on loopback; cases are filed once, follow-ups land on the sender's open case, and every
refused delivery is a problem that stores nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from application.access import Principal, Role
from infrastructure.inbound_store import MESSAGES
from infrastructure.read_models import CatalogReadSide
from infrastructure.settings import Settings
from interfaces.bootstrap import Container, periodic_jobs
from interfaces.cli import cli
from interfaces.connectors_cli import inbound_status
from projections.read_side import wait_for
from tests.e2e.conftest import SECRET
from tests.fakes.gateway import FakeGateway
from tests.support_server import serve_over_http

SECRETS = {"whatsapp": "wa-secret-" + "w" * 24, "sms": "sms-secret-" + "s" * 24}
PROBLEM_JSON = "application/problem+json"
OFFICER = Principal("siti", frozenset({Role.INTAKE_OFFICER}), frozenset({"ULPK-PUSAT"}))


@contextmanager
def gateway(settings: Settings) -> Iterator[tuple[FakeGateway, Container]]:
    with serve_over_http(settings) as (url, container):
        fake = FakeGateway(url, SECRETS)
        try:
            yield fake, container
        finally:
            fake.close()


def _settings(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_secret=SECRET,
        var_dir=tmp_path,
        projection_poll_seconds=0.2,
        inbound_secrets=json.dumps(SECRETS),
        **extra,
    )


@pytest.fixture
def pg_settings(postgres_url: str, postgres_schema: str, tmp_path: Path) -> Settings:
    return _settings(postgres_url, tmp_path, postgres_pool_size=2, postgres_schema=postgres_schema)


def events(container: Container) -> int:
    return container.complaints.recorder.max_notification_id() or 0


def officer(container: Container, *, version: int | None = None) -> dict[str, str]:
    token = container.tokens.issue("siti", ["intake_officer", "technical_officer"], ["ULPK-PUSAT"])
    headers = {"Authorization": f"Bearer {token}"}
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    return headers


def case_of(fake: FakeGateway, container: Container, number: str) -> dict[str, Any]:
    case_id = container.complaints.case_id_for_tracking_number(OFFICER, number)
    answer = fake.client.get(f"{fake.base_url}/v1/complaints/{case_id}", headers=officer(container))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def act(fake: FakeGateway, container: Container, case: dict[str, Any], path: str, body: dict):
    answer = fake.client.post(
        f"{fake.base_url}/v1/complaints/{case['id']}/{path}",
        json=body,
        headers=officer(container, version=case["version"]),
    )
    assert answer.status_code == 200, answer.text
    return case_of(fake, container, case["tracking_number"])


def stored_message_ids(container: Container) -> set[str]:
    with container.read_db.transaction() as cursor:
        cursor.execute(f"SELECT message_id FROM {MESSAGES}")
        return {row[0] for row in cursor.fetchall()}


def test_a_message_files_a_case_once_and_a_retry_gets_the_first_answer(
    pg_settings: Settings,
) -> None:
    with gateway(pg_settings) as (fake, container):
        message = fake.message(conversation_id="6281234567890")

        first = fake.deliver("whatsapp", message)
        assert first.status_code == 201, first.text
        answer = first.json()
        assert answer["result"] == "filed" and answer["status"] == "received"
        assert answer["pin"] and "id" not in answer
        assert first.headers["cache-control"] == "no-store"
        stored = events(container)

        # The gateway timed out and sends the same message again, signed afresh.
        again = fake.deliver("whatsapp", message)
        assert again.status_code == 200, again.text
        assert again.json() == answer
        assert again.headers["idempotent-replayed"] == "true"
        # Same id, another body: refused, nothing stored.
        changed = fake.deliver("whatsapp", {**message, "text": "Pesan lain sama sekali"})
        assert changed.status_code == 409, changed.text
        assert changed.headers["content-type"].startswith(PROBLEM_JSON)
        assert events(container) == stored

        case = case_of(fake, container, answer["tracking_number"])
        assert (case["channel"], case["kind"], case["category"]) == (
            "whatsapp",
            "complaint",
            "kosmetik",
        )
        assert case["subject"].startswith("Krim pemutih tanpa izin edar")
        assert case["reporter"]["phone"] == "+6281234567890"
        assert case["reporter"]["name"] == "Wati"
        # The complainant tracks it through the public side with the PIN the gateway relays.
        tracked = fake.client.get(
            f"{fake.base_url}/v1/public/complaints/{answer['tracking_number']}",
            headers={"X-Tracking-Pin": answer["pin"]},
        )
        assert tracked.status_code == 200, tracked.text
        # The sender's number is in no table of the connector, in clear.
        with container.read_db.transaction() as cursor:
            for table in ("aduan_inbound_messages", "aduan_inbound_threads"):
                cursor.execute(f"SELECT * FROM {table}")
                assert "6281234567890" not in repr(cursor.fetchall())

        status = inbound_status(container)
        assert status["configured"] and status["delivered"] == 1
        assert (status["replayed"], status["rejected"]) == (1, 1)
        assert status["channels"]["whatsapp"]["filed"] == 1
        assert status["channels"]["whatsapp"]["last_accepted_at"] is not None
        assert status["channels"]["sms"]["filed"] == 0
        assert "different body" in status["last_error"]
        metrics = fake.client.get(f"{fake.base_url}/metrics").text
        assert (
            'aduan_connector_messages_total{connector="whatsapp",kind="inbound",result="filed"} 1.0'
            in metrics
        )
        assert 'aduan_connector_reports_imported_total{connector="whatsapp"} 1.0' in metrics


def test_refused_deliveries_are_problems_that_store_nothing(tmp_path: Path) -> None:
    settings = _settings(
        f"sqlite:///{tmp_path}/aduan.db", tmp_path, rate_limit_per_minute=1, rate_limit_burst=2
    )
    with gateway(settings) as (fake, container):
        message = fake.message()
        body = json.dumps(message).encode()
        stamp = int(time.time())
        refused: list[tuple[httpx.Response, int, str]] = [
            (fake.deliver("telegram", message), 404, "http-error"),
            (fake.deliver("live_chat", message), 404, "http-error"),  # no secret: not enabled
            (fake.deliver("email", message), 404, "http-error"),  # no gateway channel
            (fake.deliver("whatsapp", message, headers={}), 401, "inbound-unsigned"),
            (fake.deliver("whatsapp", message, secret="x" * 30), 401, "inbound-bad-signature"),
            # The SMS gateway's secret does not sign for WhatsApp.
            (
                fake.deliver("whatsapp", message, secret=SECRETS["sms"]),
                401,
                "inbound-bad-signature",
            ),
            (
                fake.deliver("whatsapp", message, timestamp=stamp - 3600),
                401,
                "inbound-stale-timestamp",
            ),
            (
                fake.deliver("whatsapp", message, timestamp=stamp + 3600),
                401,
                "inbound-stale-timestamp",
            ),
            (fake.deliver("whatsapp", b'{"message_id": '), 422, "validation-error"),
            (fake.deliver("whatsapp", {**message, "sender": None}), 422, "validation-error"),
            (fake.deliver("whatsapp", {**message, "text": ""}), 422, "validation-error"),
            (fake.deliver("whatsapp", {**message, "extra": 1}), 422, "validation-error"),
            (
                fake.deliver("whatsapp", body + b" " * (64 * 1024)),
                413,
                "body-too-large",
            ),
        ]
        for answer, status, slug in refused:
            assert answer.status_code == status, answer.text
            assert answer.headers["content-type"].startswith(PROBLEM_JSON)
            assert answer.json()["type"] == f"/problems/{slug}", answer.text
        assert refused[9][0].json()["errors"][0]["field"] == "sender"
        assert events(container) == 0
        assert stored_message_ids(container) == set()
        assert inbound_status(container)["channels"]["whatsapp"]["rejected"] == len(refused) - 3

        # Messages are rate-limited per sender (a burst of 2 here), not per gateway.
        answers = [fake.deliver("sms", fake.message(sender="+628111")) for _ in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 429]
        assert "retry-after" in answers[2].headers
        other = fake.deliver("sms", fake.message(sender="+628222"))
        assert other.status_code == 201, other.text
        # A retry of a message taken in is answered even while its sender is limited.
        assert fake.deliver("sms", json.loads(answers[0].request.content)).status_code == 200
        assert len(stored_message_ids(container)) == 3

        # Past the retention the message ids go (and the PINs kept for retries); a message
        # delivered again after that still files no second case.
        assert "inbound-prune" in [job.name for job in periodic_jobs(container)]
        store = container.inbound_store
        assert store is not None
        stored = events(container)
        assert store.prune(datetime.now(UTC) + timedelta(days=1)) == 3
        assert stored_message_ids(container) == set()
        again = fake.deliver("sms", json.loads(other.request.content))
        assert again.status_code == 200, again.text
        assert again.json() == {**other.json(), "pin": None}
        assert events(container) == stored


def test_follow_ups_land_on_the_senders_open_case_and_a_closed_case_gets_a_new_one(
    pg_settings: Settings,
) -> None:
    with gateway(pg_settings) as (fake, container):
        conversation = {"conversation_id": "chat-6281234567890"}
        filed = fake.deliver("whatsapp", fake.message(**conversation)).json()
        number = filed["tracking_number"]
        case = case_of(fake, container, number)
        case = act(fake, container, case, "acknowledge", {"message": "Diterima"})
        case = act(
            fake,
            container,
            case,
            "follow-ups",
            {"action": "request_data", "note": "Mohon foto kemasan", "public": True},
        )
        assert case["waiting_for_complainant"] is True

        photo = {"url": "https://gw.example/m/1.jpg", "content_type": "image/jpeg"}
        reply = fake.deliver(
            "whatsapp",
            fake.message("Ini fotonya", attachments=[photo], **conversation),
        )
        assert reply.status_code == 201, reply.text
        assert reply.json() == {
            "tracking_number": number,
            "status": "acknowledged",
            "result": "appended",
            "pin": None,
        }
        case = case_of(fake, container, number)
        assert case["waiting_for_complainant"] is False
        history = fake.client.get(
            f"{fake.base_url}/v1/complaints/{case['id']}/history", headers=officer(container)
        ).json()["events"]
        assert history[-1]["type"] == "ComplainantReplied"

        # Quoting the tracking number works for its own sender (however the gateway spaces the
        # number), on a new conversation too ...
        quoted = fake.deliver(
            "whatsapp",
            fake.message("Ada kabar?", sender="+62 812-3456-7890", tracking_number=number),
        )
        assert quoted.json()["result"] == "appended", quoted.text
        # ... but another sender quoting it files a case of their own: no one writes into a
        # case they did not file.
        stranger = fake.deliver(
            "whatsapp", fake.message("Saya juga", sender="+6289999", tracking_number=number)
        )
        assert stranger.json()["result"] == "filed"
        assert stranger.json()["tracking_number"] != number
        # The same conversation on another channel is another conversation.
        assert fake.deliver("sms", fake.message(**conversation)).json()["result"] == "filed"

        case = case_of(fake, container, number)
        act(fake, container, case, "close", {"outcome": "answered", "answer": "Sudah ditindak"})
        after = fake.deliver("whatsapp", fake.message("Masih dijual!", **conversation)).json()
        assert after["result"] == "filed" and after["pin"]
        assert after["tracking_number"] != number
        # The conversation leads to the new case from now on.
        next_one = fake.deliver("whatsapp", fake.message("Lokasinya Blok A", **conversation))
        assert next_one.json()["tracking_number"] == after["tracking_number"]
        assert next_one.json()["result"] == "appended"
        assert case_of(fake, container, number)["status"] == "closed"


def test_connectors_status_shows_each_gateway_channel(tmp_path: Path) -> None:
    env = {
        "ADUAN_DATABASE_URL": f"sqlite:///{tmp_path}/aduan.db",
        "ADUAN_JWT_SECRET": SECRET,
        "ADUAN_VAR_DIR": str(tmp_path),
    }
    rows = CliRunner().invoke(cli, ["connectors", "status", "--json"], env=env)
    assert rows.exit_code == 0, rows.output
    off = [json.loads(line) for line in rows.output.splitlines() if "inbound" in line]
    assert off[0]["configured"] is False and off[0]["channels"] == {}

    env["ADUAN_INBOUND_SECRETS"] = json.dumps(SECRETS)
    rows = CliRunner().invoke(cli, ["connectors", "status", "--json"], env=env)
    on = next(json.loads(line) for line in rows.output.splitlines() if "inbound" in line)
    assert on["configured"] is True and on["url"] == "/v1/inbound/{sms,whatsapp}"
    assert sorted(on["channels"]) == ["sms", "whatsapp"]
    table = CliRunner().invoke(cli, ["connectors", "status"], env=env)
    assert table.exit_code == 0 and "inbo" in table.output  # (a narrow table wraps names)

    env["ADUAN_INBOUND_SECRETS"] = '{"email": "' + "e" * 20 + '"}'  # no gateway channel
    refused = CliRunner().invoke(cli, ["connectors", "status"], env=env)
    assert refused.exit_code != 0


def test_one_message_delivered_many_times_at_once_is_taken_in_once(
    pg_settings: Settings,
) -> None:
    with gateway(pg_settings) as (fake, container):
        conversation = {"conversation_id": "chat-race"}
        number = fake.deliver("whatsapp", fake.message(**conversation)).json()["tracking_number"]
        for message in (
            fake.message("Tambahan info", **conversation),  # adds to the open case
            fake.message("Pesan baru", sender="+6287777"),  # files a case
        ):
            stored = events(container)
            with ThreadPoolExecutor(max_workers=6) as pool:
                answers = list(pool.map(partial(fake.deliver, "whatsapp"), [message] * 6))
            codes = sorted(a.status_code for a in answers)
            assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, codes
            taken = next(a.json() for a in answers if a.status_code == 201)
            for answer in answers:
                if answer.status_code == 200:
                    assert answer.json() == taken
                if answer.status_code == 409:
                    assert answer.json()["type"] == "/problems/request-in-flight"
            # After the race, every retry gets the one answer.
            assert fake.deliver("whatsapp", message).json() == taken
            added = 1 if taken["result"] == "appended" else 3  # a case: Received, index, PIN
            assert events(container) == stored + added, taken
        assert taken["tracking_number"] != number


def test_a_timestamp_near_year_1_files_the_case_as_received_now(tmp_path: Path) -> None:
    # Such a received_at was taken as it came and stopped every read model (working days
    # cannot be counted from year 1); the message is still filed, as received now.
    settings = _settings(f"sqlite:///{tmp_path}/aduan.db", tmp_path)
    with gateway(settings) as (fake, container):
        before = datetime.now(UTC)
        answer = fake.deliver("whatsapp", fake.message(timestamp="0001-01-01T00:00:00+14:00"))
        assert answer.status_code == 201, answer.text
        case = case_of(fake, container, answer.json()["tracking_number"])
        assert datetime.fromisoformat(case["received_at"]) >= before
        read_side = CatalogReadSide(container.catalog)
        for name in read_side.names():
            assert wait_for(read_side, name, events(container), 20), name
