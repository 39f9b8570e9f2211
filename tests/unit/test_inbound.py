"""Messaging gateways' pure parts: the signature, and what a message becomes as a case."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from application.inbound import (
    GATEWAY_CHANNELS,
    MAX_SUBJECT,
    Attachment,
    InboundMessage,
    category_of,
    full_text,
    reporter_of,
    signature_matches,
    subject_of,
)
from application.public import PUBLIC_CHANNELS
from domain.values import Reporter
from domain.vocabulary import Category, Channel

SECRET = b"s" * 32


def signed(timestamp: str, body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def message(text: str = "Halo", sender: str = "+6281234567890", **extra) -> InboundMessage:
    return InboundMessage(
        "m1", datetime(2026, 12, 3, tzinfo=UTC), sender, extra.pop("name", None), text, **extra
    )


def test_a_signature_verifies_only_over_its_own_timestamp_body_and_secret() -> None:
    body = b'{"message_id": "m1"}'
    good = signed("1700000000", body)
    assert signature_matches(SECRET, "1700000000", body, good)
    assert signature_matches(SECRET, "1700000000", body, good.upper().replace("SHA256=", "sha256="))
    assert not signature_matches(SECRET, "1700000001", body, good)
    assert not signature_matches(SECRET, "1700000000", body + b" ", good)
    assert not signature_matches(b"t" * 32, "1700000000", body, good)
    for malformed in (None, "", good[7:], "sha1=" + good[7:], good + "00", "sha256=xyz"):
        assert not signature_matches(SECRET, "1700000000", body, malformed)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Jamu pegal linu mengandung BKO", Category.OBAT_TRADISIONAL),
        ("Obat tradisional tanpa izin", Category.OBAT_TRADISIONAL),
        ("Krim pemutih bikin iritasi", Category.KOSMETIK),
        ("Susu kemasan sudah kedaluwarsa", Category.PANGAN_OLAHAN),
        ("Vitamin C palsu", Category.SUPLEMEN_KESEHATAN),
        ("Obat batuk dijual bebas", Category.OBAT),
        ("Petugas tidak ramah", Category.LAINNYA),  # never a restricted category by guess
        ("Obatnya? Bukan, kosmetiknya", Category.LAINNYA),  # whole words only
    ],
)
def test_a_messages_words_suggest_its_category(text: str, category: Category) -> None:
    assert category_of(text) == category


def test_the_subject_is_the_first_line_capped_and_an_empty_text_says_attachments() -> None:
    assert subject_of(Channel.SMS, "\n  Krim   pemutih \nbaris dua") == "Krim pemutih"
    long = subject_of(Channel.SMS, "x" * 500)
    assert len(long) == MAX_SUBJECT and long.endswith("…")
    assert subject_of(Channel.WHATSAPP, "") == "Pesan WhatsApp dengan lampiran"


def test_attachments_are_listed_under_the_text() -> None:
    photo = Attachment("https://gw.example/1.jpg", "image/jpeg", "foto.jpg", 1234)
    assert full_text(message("Ini fotonya", attachments=(photo,))) == (
        "Ini fotonya\nLampiran: foto.jpg (image/jpeg) https://gw.example/1.jpg"
    )


def test_the_sender_becomes_the_reporter_a_phone_on_phone_channels_a_handle_elsewhere() -> None:
    assert reporter_of(Channel.WHATSAPP, message(name="Wati")) == Reporter(
        name="Wati", phone="+6281234567890"
    )
    assert reporter_of(Channel.SOCIAL_MEDIA, message(sender="@wati", name="Wati")) == Reporter(
        name="Wati (@wati)"
    )
    assert reporter_of(Channel.LIVE_CHAT, message(sender="visitor-42")) == Reporter(
        name="visitor-42"
    )


def test_every_gateway_channel_is_a_channel_the_public_may_file_on() -> None:
    assert GATEWAY_CHANNELS <= PUBLIC_CHANNELS
