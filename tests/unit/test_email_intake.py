"""Reading email: what a message becomes, whatever it looks like; the mailbox sources."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.access import Role
from application.email_intake import (
    NO_SUBJECT,
    EmailAckSender,
    OutgoingMail,
    case_from_mail,
    html_to_text,
    message_key,
    normalised_message_id,
    parse_mail,
    tracking_numbers_in,
)
from application.lapor import ConnectorUnavailable, OutboxCounts, OutboxEntry
from domain.tracking_number import display, tracking_number_from
from domain.values import Reporter
from domain.vocabulary import Category, Channel
from infrastructure.clock import ManualClock
from infrastructure.event_log import ApplicationLog
from infrastructure.mailbox import FolderMailSource, ImapMailSource
from projections.email.outbox import EmailOutboxProjection
from projections.lapor.outbox import MemoryOutboxView
from projections.runner import Binding, Runner
from tests.fakes.imap import PASSWORD, USER, FakeImap
from tests.support import INTAKE, MONDAY, POPO, build_complaints, new_case, officer

NOW = MONDAY
ADMIN = officer(Role.ADMIN, units=("*",), sub="admin")


def nested_mail() -> bytes:
    message = EmailMessage()
    message["From"] = '"Budi, S.H." <Budi@Example.ID>'
    message["Subject"] = "  Jamu   tanpa izin "
    message["Message-ID"] = "<Nested.1@Mail.Example.ID>"
    message["Date"] = "Mon, 02 Nov 2026 08:00:00 -0000"
    message.set_content("Jamu dijual bebas.\n")
    message.add_alternative("<p>Jamu <b>dijual</b> bebas.</p>", subtype="html")
    message.add_attachment(
        b"%PDF-1.4 bukti", maintype="application", subtype="pdf", filename="a.pdf"
    )
    forwarded = EmailMessage()
    forwarded["Subject"] = "diteruskan"
    forwarded.set_content("isi yang diteruskan")
    message.add_attachment(forwarded)
    return bytes(message)


def test_the_plain_body_is_read_and_every_attachment_becomes_a_reference() -> None:
    mail = parse_mail(nested_mail())
    assert mail.body == "Jamu dijual bebas."
    assert (mail.subject, mail.sender_name, mail.sender_email) == (
        "Jamu tanpa izin",
        "Budi, S.H.",
        "Budi@Example.ID",
    )
    assert mail.message_id == "nested.1@mail.example.id"
    assert mail.sent_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # -0000: taken as UTC
    assert [(a.section, a.filename, a.content_type) for a in mail.attachments] == [
        ("2", "a.pdf", "application/pdf"),
        ("3", None, "message/rfc822"),
    ]
    assert mail.attachments[0].sha256 == hashlib.sha256(b"%PDF-1.4 bukti").hexdigest()
    assert mail.problems == ()


def test_a_message_is_the_same_message_by_its_id_else_by_its_bytes() -> None:
    assert normalised_message_id(" <Abc@Host> ") == normalised_message_id("abc@host") == "abc@host"
    assert normalised_message_id("two words") is None
    raw = b"From: a@b.id\r\n\r\nisi\r\n"
    assert parse_mail(raw).key == message_key(None, raw) != parse_mail(raw + b"!").key
    assert parse_mail(nested_mail()).key == message_key("nested.1@mail.example.id", b"")


def test_a_case_is_received_when_sent_but_never_in_the_future() -> None:
    mail = parse_mail(b"Date: Tue, 01 Dec 2026 08:00:00 +0700\r\n\r\nObat palsu\r\n")
    new = case_from_mail(mail, "x.eml", "ULPK-PUSAT", NOW)
    assert (new.received_at, new.channel, new.category) == (NOW, Channel.EMAIL, Category.OBAT)
    assert (new.subject, new.reporter) == ("Obat palsu", None)
    past = parse_mail(nested_mail())
    assert case_from_mail(past, "x.eml", "ULPK-PUSAT", NOW + timedelta(days=1)).received_at == (
        past.sent_at
    )


def test_empty_and_subjectless_mail_still_makes_a_case() -> None:
    new = case_from_mail(parse_mail(b""), "empty.eml", "ULPK-PUSAT", NOW)
    assert new.subject == NO_SUBJECT
    assert new.description.startswith("(email tanpa isi teks)")
    assert "alamat pengirim tidak ada" in new.description


def test_machine_mail_is_marked_automatic() -> None:
    auto = parse_mail(b"From: a@b.id\r\nAuto-Submitted: auto-replied\r\n\r\nSaya cuti.\r\n")
    assert auto.automatic == "Auto-Submitted: auto-replied"
    bounce = parse_mail(
        b"From: MAILER-DAEMON@b.id\r\nContent-Type: multipart/report; boundary=x\r\n\r\n"
        b"--x\r\nContent-Type: text/plain\r\n\r\ngagal\r\n--x--\r\n"
    )
    assert bounce.automatic is not None
    assert parse_mail(b"Auto-Submitted: no\r\n\r\nhalo\r\n").automatic is None


def test_tracking_numbers_are_found_in_a_subject_only_when_well_formed() -> None:
    number = tracking_number_from(bytes(range(7)))
    shown = display(number)
    wrong = shown[:-1] + ("0" if shown[-1] != "0" else "1")
    assert tracking_numbers_in(f"Re: [Aduan {shown}] terima kasih") == [number]
    assert tracking_numbers_in(f"nomor {number.lower()}") == [number]
    assert tracking_numbers_in(f"Re: [Aduan {wrong}]") == []


def test_html_becomes_text_without_scripts_or_styles() -> None:
    html = "<style>p{}</style><script>x()</script><p>Satu&nbsp;dua</p><br><div>tiga</div>"
    assert html_to_text(html) == "Satu dua\ntiga"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_no_bytes_make_the_reader_raise(data: bytes) -> None:
    mail = parse_mail(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + data)
    case_from_mail(mail, "fuzz.eml", "ULPK-PUSAT", NOW)
    parse_mail(data)


def test_a_new_uidvalidity_reads_the_folder_again_from_the_start() -> None:
    imap = FakeImap().start()
    try:
        source = ImapMailSource("127.0.0.1", imap.port, USER, PASSWORD, use_ssl=False)
        imap.add(b"Subject: satu\r\n\r\n1\r\n")
        imap.add(b"Subject: dua\r\n\r\n2\r\n")
        [first, second] = source.fetch(None, 10)
        assert second.cursor == f"{imap.uidvalidity}:2"
        assert source.fetch(first.cursor, 10) == [second]
        assert source.fetch(second.cursor, 10) == []
        imap.uidvalidity += 1
        assert [m.data for m in source.fetch(second.cursor, 1)] == [first.data]
    finally:
        imap.stop()


def test_a_folder_source_moves_what_was_taken_to_done(tmp_path: Path) -> None:
    (tmp_path / "b.eml").write_bytes(b"Subject: b\r\n\r\nb\r\n")
    (tmp_path / "a.eml").write_bytes(b"Subject: a\r\n\r\na\r\n")
    (tmp_path / "note.txt").write_text("not mail")
    source = FolderMailSource(tmp_path)
    [a, b] = source.fetch(None, 10)
    assert (a.location, b.location) == ("a.eml", "b.eml")
    source.processed(a)
    assert [m.location for m in source.fetch(None, 10)] == ["b.eml"]
    assert (tmp_path / "done" / "a.eml").exists()


def test_a_folder_that_is_not_there_fails_the_poll_instead_of_reading_nothing(
    tmp_path: Path,
) -> None:
    # A mistyped ADUAN_EMAIL_FOLDER used to poll "successfully" forever, showing no error.
    with pytest.raises(ConnectorUnavailable, match="no such folder"):
        FolderMailSource(tmp_path / "missing").fetch(None, 10)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConnectorUnavailable, match="no such folder"):
        FolderMailSource(tmp_path / "a-file").fetch(None, 10)


class Outbox:
    """The sender's side of the outbox in memory, over the projection's memory view."""

    def __init__(self, view: MemoryOutboxView) -> None:
        self.view = view
        self.done: dict[str, str] = {}

    def due(self, now: datetime, limit: int) -> list[OutboxEntry]:
        return [
            OutboxEntry(m.key, m.seq, m.case_id, m.version, m.tracking_id, m.kind, 0, now)
            for m in self.view.messages.values()
            if m.key not in self.done
        ][:limit]

    def delivered(self, key: str, at: datetime) -> None:
        self.done[key] = "delivered"

    def failed(self, key: str, next_attempt_at: datetime, error: str) -> None:
        raise AssertionError(error)

    def rejected(self, key: str, at: datetime, error: str) -> None:
        self.done[key] = error

    def outbox_counts(self) -> OutboxCounts:
        return OutboxCounts(0, 0, 0, 0, None)


class Mailbag:
    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []

    def send(self, mail: OutgoingMail) -> None:
        self.sent.append(mail)


def test_only_email_cases_acknowledgements_are_emailed_and_an_erased_reporter_gets_none() -> None:
    app = build_complaints(POPO, ManualClock(MONDAY))
    try:
        reporter = Reporter(name="Wati", email="wati@example.id")
        emailed = app.file_case(INTAKE, new_case(channel=Channel.EMAIL, reporter=reporter)).id
        erased = app.file_case(INTAKE, new_case(channel=Channel.EMAIL, reporter=reporter)).id
        phoned = app.file_case(INTAKE, new_case(reporter=reporter)).id
        for case_id in (emailed, erased, phoned):
            app.acknowledge(INTAKE, case_id, 1, message="Pengaduan Anda kami terima.")
        app.erase_reporter(ADMIN, erased, 2, reason="permintaan pelapor")
        view = MemoryOutboxView()
        Runner(ApplicationLog(app), [Binding(EmailOutboxProjection(), view)]).catch_up()
        assert {m.case_id for m in view.messages.values()} == {emailed, erased}

        outbox, mailbag = Outbox(view), Mailbag()
        result = EmailAckSender(app, mailbag, outbox, domain="pom.test").drain(MONDAY)
        assert (result.delivered, result.rejected) == (1, 1)
        [sent] = mailbag.sent
        number = app.repository.get(emailed).tracking_number
        assert (sent.to, sent.message_id) == ("wati@example.id", f"<ack.{emailed}@pom.test>")
        assert sent.subject == f"[Aduan {display(number)}] Pengaduan Anda kami terima"
        assert "Pengaduan Anda kami terima." in sent.body and display(number) in sent.body
    finally:
        app.close()
