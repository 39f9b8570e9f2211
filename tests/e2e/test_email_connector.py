"""Email intake end to end: the connector against the fake IMAP server on loopback (on
PostgreSQL), and against a folder of .eml files (on SQLite).

New messages become email cases once, with the sender sealed and attachments as references;
replies to the acknowledgement become the complainant's replies (a closed case gets a new
case instead); the mailbox going away shows in ``aduan connectors status`` and passes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from typer.testing import CliRunner

from application.complaints import IDEMPOTENCY_NAMESPACE
from application.email_intake import (
    CLOSED_CASE_REPLY,
    CONNECTOR_SUB,
    RELAYING,
    EmailConnector,
    ack_message_id,
    import_key,
    message_key,
    message_text,
    parse_mail,
)
from application.lapor import ConnectorUnavailable, SendResult
from domain.tracking_number import display, normalise
from infrastructure.clock import ManualClock
from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap, email_connector, periodic_jobs
from interfaces.cli import cli
from interfaces.connectors_cli import connector_statuses
from tests.e2e.conftest import SECRET, Api
from tests.fakes.imap import PASSWORD, USER, FakeImap
from tests.fakes.smtp import REFUSED, FakeSmtp
from tests.support import MONDAY

DOMAIN = "pengaduan.pom.test"
PHOTO = b"\xff\xd8\xff\xe0 foto krim pemutih " * 40


@pytest.fixture
def fake() -> Iterator[FakeImap]:
    imap = FakeImap().start()
    yield imap
    imap.stop()


@pytest.fixture
def settings(postgres_url: str, postgres_schema: str, tmp_path: Path, fake: FakeImap) -> Settings:
    return Settings(
        database_url=postgres_url,
        jwt_secret=SECRET,
        var_dir=tmp_path,
        postgres_pool_size=2,
        postgres_schema=postgres_schema,
        email_imap_host="127.0.0.1",
        email_imap_port=fake.port,
        email_imap_ssl=False,
        email_imap_user=USER,
        email_imap_password=PASSWORD,
        email_timeout_seconds=5,
        email_domain=DOMAIN,
    )


@contextmanager
def service(settings: Settings, read_models: list[str] | None = None) -> Iterator[Api]:
    container = bootstrap(settings, clock=ManualClock(MONDAY))
    if read_models:
        container.start_background(read_models)
    try:
        with TestClient(container.http_app(), raise_server_exceptions=False) as client:
            yield Api(client, container, container.clock)  # type: ignore[arg-type]
    finally:
        container.close()


def connector(api: Api) -> EmailConnector:
    """The connector as the "email-intake" job holds it: one per process."""
    found = getattr(api, "email", None)
    if found is None:
        found = email_connector(api.container)
        assert found is not None
        api.email = found  # type: ignore[attr-defined]
    return found


def mail(
    message_id: str | None,
    *,
    sender: str | None = "Wati Lestari <wati@example.id>",
    subject: str = "Krim pemutih tanpa izin edar",
    body: str = "Saya membeli krim pemutih di pasar; kulit saya iritasi.",
    in_reply_to: str | None = None,
    photo: bytes | None = None,
) -> bytes:
    message = EmailMessage()
    if sender is not None:
        message["From"] = sender
    message["To"] = f"pengaduan@{DOMAIN}"
    message["Subject"] = subject
    message["Date"] = "Mon, 02 Nov 2026 08:00:00 +0700"
    if message_id is not None:
        message["Message-ID"] = message_id
    if in_reply_to is not None:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    if photo is not None:
        message.add_attachment(photo, maintype="image", subtype="jpeg", filename="foto krim.jpg")
    return bytes(message)


def case_id_of(message_id: str) -> UUID:
    key = message_key(message_id.strip("<>").lower(), b"")
    return uuid5(IDEMPOTENCY_NAMESPACE, f"{CONNECTOR_SUB}\x1f{import_key(key)}")


def case(api: Api, case_id: UUID) -> dict[str, Any]:
    response = api.client.get(f"/v1/complaints/{case_id}", headers=api.headers("intake_officer"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def command(api: Api, case_id: UUID, path: str, body: dict[str, Any], version: int) -> None:
    response = api.client.post(
        f"/v1/complaints/{case_id}/{path}",
        json=body,
        headers=api.headers("intake_officer", version=version),
    )
    assert response.status_code == 200, response.text


def email_row(container: Container) -> dict[str, Any]:
    [row] = [s for s in connector_statuses(container) if s["connector"] == "email"]
    return row


def event_states(postgres_url: str, schema: str) -> list[bytes]:
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT state FROM {}.aduan_events").format(sql.Identifier(schema))
        ).fetchall()
    return [bytes(r[0]) for r in rows]


def test_messages_become_email_cases_once_and_replies_reach_their_case(
    settings: Settings, fake: FakeImap, postgres_url: str, postgres_schema: str
) -> None:
    fake.add(mail("<m1@mail.example.id>", photo=PHOTO))
    with service(settings) as api:
        assert connector(api).poll().filed == 1
        first = case_id_of("<m1@mail.example.id>")
        filed = case(api, first)
        assert (filed["channel"], filed["category"], filed["subject"]) == (
            "email",
            "kosmetik",
            "Krim pemutih tanpa izin edar",
        )
        assert filed["reporter"]["email"] == "wati@example.id"
        assert filed["reporter"]["name"] == "Wati Lestari"
        assert filed["received_at"] == "2026-11-02T08:00:00+07:00"
        # The attachment is a reference: name, type, size, hash and where it lives.
        assert "foto krim.jpg; image/jpeg" in filed["description"]
        assert hashlib.sha256(PHOTO).hexdigest() in filed["description"]
        assert f"INBOX;UIDVALIDITY={fake.uidvalidity};UID=1 bagian 2" in filed["description"]
        states = event_states(postgres_url, postgres_schema)
        assert any(b"Krim pemutih tanpa izin edar" in s for s in states)  # subjects are clear
        assert not any(b"wati@example.id" in s or b"Wati Lestari" in s for s in states)
        assert not any(b"iritasi" in s or PHOTO[:20] in s for s in states)

        # The same message again (delivered twice), and after the cursor is lost.
        events = api.stored_events()
        fake.add(mail("<M1@mail.example.id>", photo=PHOTO))
        again = connector(api).poll()
        assert (again.filed, again.already) == (0, 1)
        assert api.container.lapor is not None
        api.container.lapor.polled("email", None, api.clock.now())
        assert connector(api).poll().already == 2
        assert api.stored_events() == events

        # The unit asks for missing data; the complainant answers the acknowledgement.
        command(api, first, "acknowledge", {"message": "Pengaduan Anda kami terima."}, 1)
        command(
            api,
            first,
            "follow-ups",
            {"action": "request_data", "note": "Mohon kirim nomor batch.", "public": True},
            2,
        )
        assert case(api, first)["waiting_for_complainant"] is True
        ack = ack_message_id(first, DOMAIN)
        reply = mail(
            "<r1@mail.example.id>",
            subject="Re: Pengaduan Anda",
            body="Nomor batch: BX-12345\n> Mohon kirim nomor batch.",
            in_reply_to=ack,
        )
        fake.add(reply)
        assert connector(api).poll().replies == 1
        fake.add(reply)  # the same reply delivered again
        assert connector(api).poll().already == 1
        answered = case(api, first)
        assert (answered["version"], answered["waiting_for_complainant"]) == (4, False)
        history = api.client.get(
            f"/v1/complaints/{first}/history", headers=api.headers("intake_officer")
        ).json()["events"]
        assert [e["type"] for e in history][-1] == "ComplainantReplied"
        assert "BX-12345" in history[-1]["data"]["message"]
        assert "Mohon kirim" not in history[-1]["data"]["message"]

        # A crash after a reply was recorded on its case, before it was noted as done: taken
        # again, it is found on the case and not recorded twice.
        # (It comes in twice, at two UIDs: the text names where it lives.)
        crashed = mail("<r0@mail.example.id>", body="Foto menyusul.", in_reply_to=ack, photo=PHOTO)
        where = f"INBOX;UIDVALIDITY={fake.uidvalidity};UID={fake.add(crashed)}"
        parsed = parse_mail(crashed)
        store = api.container.email
        assert store is not None
        store.record(parsed.key, RELAYING, first, where, api.clock.now())
        api.container.complaints.relay_complainant_message(
            first, message=message_text(parsed, where.replace("UID=", "UID=9"))
        )
        assert connector(api).poll().replies == 1
        assert case(api, first)["version"] == 5

        # Its tracking number in the subject, from the same address: a reply too; from another
        # address: a new case.
        number = filed["tracking_number"]
        assert number == display(normalise(number))  # as the complainant has it: 7K2M-9QXD-4TZ
        fake.add(mail("<r2@mail.example.id>", subject=f"Re: [Aduan {number}]", body="Foto ada."))
        fake.add(
            mail(
                "<x1@mail.example.id>",
                sender="Orang Lain <lain@example.id>",
                subject=f"Pengaduan {number}",
            )
        )
        result = connector(api).poll()
        assert (result.replies, result.filed) == (1, 1)
        assert case(api, first)["version"] == 6
        assert case(api, case_id_of("<x1@mail.example.id>"))["channel"] == "email"

        # A reply to a closed case becomes a new case: nothing is lost.
        command(api, first, "close", {"outcome": "answered", "answer": "Sudah ditindak."}, 6)
        fake.add(
            mail(
                "<r3@mail.example.id>",
                subject="Re: Pengaduan Anda",
                body="Produknya masih dijual.",
                in_reply_to=ack_message_id(first, DOMAIN),
            )
        )
        assert connector(api).poll().filed == 1
        assert case(api, first)["version"] == 7
        new = case(api, case_id_of("<r3@mail.example.id>"))
        assert new["description"].startswith(CLOSED_CASE_REPLY)
        assert "Produknya masih dijual." in new["description"]

        metrics = api.client.get("/metrics").text
        assert 'aduan_connector_reports_imported_total{connector="email"} 3.0' in metrics
        assert 'aduan_connector_polls_total{connector="email",result="ok"}' in metrics


def test_the_mailbox_going_away_shows_in_the_status_and_the_next_poll_catches_up(
    settings: Settings, fake: FakeImap
) -> None:
    with service(settings) as api:
        assert "email-intake" in [job.name for job in periodic_jobs(api.container)]
        fake.add(mail("<d1@mail.example.id>"))
        connector(api).poll()
        fake.stop()
        fake.add(mail("<d2@mail.example.id>"))
        with pytest.raises(ConnectorUnavailable):
            connector(api).poll()
        [down] = [s for s in connector_statuses(api.container) if s["connector"] == "email"]
        assert down["configured"] is True
        assert "Connection refused" in down["last_error"]
        assert down["delivered"] == 1
        assert down["cursor"] == f"{fake.uidvalidity}:1"
        metrics = api.client.get("/metrics").text
        assert 'aduan_connector_polls_total{connector="email",result="failed"} 1.0' in metrics

        fake.start()  # back, on the same port, a minute later
        api.clock.advance(timedelta(seconds=60))
        assert connector(api).poll().filed == 1
        [up] = [s for s in connector_statuses(api.container) if s["connector"] == "email"]
        assert (up["last_error"], up["delivered"], up["cursor"]) == (
            None,
            2,
            f"{fake.uidvalidity}:2",
        )
        assert fake.seen() == [1]  # flagged \Seen at the next session; 2 at the one after


def test_an_eml_folder_files_every_message_even_malformed_ones(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "01-no-from.eml").write_bytes(mail("<f1@x.id>", sender=None))
    (inbox / "02-charset.eml").write_bytes(
        b"From: a@example.id\r\nMessage-ID: <f2@x.id>\r\nSubject: Jamu pegal linu\r\n"
        b'Content-Type: text/plain; charset="x-no-such-charset"\r\n\r\nJamu \xe9\xff palsu\r\n'
    )
    (inbox / "03-empty.eml").write_bytes(b"From: b@example.id\r\nMessage-ID: <f3@x.id>\r\n\r\n")
    (inbox / "04-garbage.eml").write_bytes(b"\x00\xff garbage: \r\n\r\n\r\n--\xfe")
    (inbox / "05-html.eml").write_bytes(
        b"From: c@example.id\r\nMessage-ID: <f5@x.id>\r\nSubject: Suplemen\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><style>p{}</style><p>Suplemen <b>palsu</b></p><p>di toko</p></html>\r\n"
    )
    (inbox / "06-out-of-office.eml").write_bytes(
        b"From: d@example.id\r\nAuto-Submitted: auto-replied\r\nIn-Reply-To: <f1@x.id>\r\n\r\n"
        b"Saya sedang cuti.\r\n"
    )
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/aduan.db",
        jwt_secret=SECRET,
        var_dir=tmp_path,
        email_folder=inbox,
    )
    with service(settings) as api:
        result = connector(api).poll()
        assert (result.filed, result.rejected, result.ignored) == (5, 0, 1)
        assert sorted(p.name for p in (inbox / "done").iterdir()) == sorted(
            [
                "01-no-from.eml",
                "02-charset.eml",
                "03-empty.eml",
                "04-garbage.eml",
                "05-html.eml",
                "06-out-of-office.eml",
            ]
        )
        no_from = case(api, case_id_of("<f1@x.id>"))
        assert no_from["reporter"] is None
        assert "alamat pengirim tidak ada" in no_from["description"]
        charset = case(api, case_id_of("<f2@x.id>"))
        assert charset["category"] == "obat_tradisional"
        assert "Jamu" in charset["description"] and "charset" in charset["description"]
        empty = case(api, case_id_of("<f3@x.id>"))
        assert (empty["subject"], empty["description"].splitlines()[0]) == (
            "Email tanpa subjek",
            "(email tanpa isi teks)",
        )
        html = case(api, case_id_of("<f5@x.id>"))
        assert html["description"].splitlines()[:2] == ["Suplemen palsu", "di toko"]
        assert html["category"] == "suplemen_kesehatan"

        # Put back by hand: taken once already, nothing filed twice.
        (inbox / "done" / "05-html.eml").rename(inbox / "05-html.eml")
        assert connector(api).poll().already == 1
        [status] = [s for s in connector_statuses(api.container) if s["connector"] == "email"]
        assert (status["configured"], status["delivered"], status["failed"]) == (True, 5, 0)
        assert api.stored_events() == 10  # five cases and their tracking numbers, no more

    env = {
        "ADUAN_DATABASE_URL": settings.database_url,
        "ADUAN_JWT_SECRET": SECRET,
        "ADUAN_VAR_DIR": str(tmp_path),
        "ADUAN_EMAIL_FOLDER": str(inbox),
    }
    shown = CliRunner().invoke(cli, ["connectors", "status", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    rows = [json.loads(line) for line in shown.output.splitlines() if line.strip()]
    [row] = [r for r in rows if r["connector"] == "email"]
    assert (row["configured"], row["url"], row["delivered"]) == (True, str(inbox), 5)
    table = CliRunner().invoke(cli, ["connectors", "status"], env=env)
    assert table.exit_code == 0 and "email" in table.output


def test_acknowledgements_are_emailed_once_with_the_message_id_replies_thread_on(
    settings: Settings, fake: FakeImap
) -> None:
    smtp = FakeSmtp()  # not started yet: the mail server is down at first
    settings = settings.model_copy(
        update={
            "email_smtp_host": "127.0.0.1",
            "email_smtp_port": smtp.port,
            "email_smtp_starttls": False,
            "projection_poll_seconds": 0.2,
        }
    )
    fake.add(mail("<a1@mail.example.id>"))
    fake.add(mail("<a2@mail.example.id>", sender=f"Ditolak <{REFUSED}>"))
    with service(settings, ["email-outbox"]) as api:
        assert "email-send" in [job.name for job in periodic_jobs(api.container)]
        email = connector(api)
        assert email.poll().filed == 2
        first, second = case_id_of("<a1@mail.example.id>"), case_id_of("<a2@mail.example.id>")
        command(api, first, "acknowledge", {"message": "Pengaduan Anda kami terima."}, 1)
        command(api, second, "acknowledge", {"message": "Diterima."}, 1)
        store = api.container.email
        assert store is not None
        head = api.stored_events()
        deadline = time.monotonic() + 30
        while store.position() < head:
            assert time.monotonic() < deadline, "the email outbox did not catch up"
            time.sleep(0.05)

        assert email.send().failed == 1
        down = email_row(api.container)
        assert (down["pending"], down["retrying"], down["outbox_lag"]) == (1, 1, 0)
        assert "Connection refused" in down["last_error"]

        smtp.start()
        try:
            email.send()  # the failed one waits its backoff; the other is refused for good
            api.clock.advance(timedelta(seconds=10))
            assert email.send().delivered == 1
            assert email.send() == SendResult(0, 0, 0)  # nothing left to send
            [(to, sent)] = smtp.messages()
        finally:
            smtp.stop()
        number = case(api, first)["tracking_number"]
        assert to == ["wati@example.id"]
        assert sent["Message-ID"] == ack_message_id(first, DOMAIN)
        assert sent["Subject"] == f"[Aduan {number}] Pengaduan Anda kami terima"
        assert sent["From"] == f"pengaduan@{DOMAIN}"
        assert "Pengaduan Anda kami terima." in sent.get_content()
        up = email_row(api.container)
        assert (up["pending"], up["retrying"], up["rejected"]) == (0, 0, 1)
        assert "550" in up["last_error"]
        metrics = api.client.get("/metrics").text
        assert (
            'aduan_connector_messages_total{connector="email",kind="acknowledged",'
            'result="delivered"} 1.0'
        ) in metrics

        # The complainant answers the email as it came: the reply is on the case.
        fake.add(
            mail(
                "<a3@mail.example.id>",
                subject=f"Re: {sent['Subject']}",
                body="Terima kasih, berikut foto produknya.",
                in_reply_to=sent["Message-ID"],
            )
        )
        assert email.poll().replies == 1
        assert case(api, first)["version"] == 3
