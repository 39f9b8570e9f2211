"""Mail: the IMAP folder (or folder of ``.eml`` files) the intake reads, the SMTP server the
acknowledgements go out through."""

from __future__ import annotations

import imaplib
import logging
import os
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from application.email_intake import OutgoingMail, RawMail
from application.lapor import ConnectorRejected, ConnectorUnavailable

log = logging.getLogger("aduan.email")


def parse_cursor(cursor: str | None) -> tuple[int, int] | None:
    """``"UIDVALIDITY:UID"`` as numbers; None for no cursor or one not of this form."""
    if not cursor:
        return None
    validity, _, uid = cursor.partition(":")
    if not (validity.isdigit() and uid.isdigit()):
        return None
    return int(validity), int(uid)


class ImapMailSource:
    """An IMAP folder read by UID: the cursor is ``UIDVALIDITY:last UID``.

    Messages are fetched with BODY.PEEK[] (nothing marked while reading); those taken are
    flagged \\Seen at the start of the next fetch, for people who look at the mailbox. A new
    UIDVALIDITY (the folder was rebuilt) reads the folder again from its first message: the
    processed-message table keeps that from filing anything twice.
    """

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        *,
        use_ssl: bool = True,
        folder: str = "INBOX",
        timeout_seconds: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.use_ssl = use_ssl
        self.folder = folder
        self.timeout_seconds = timeout_seconds
        self._taken: list[tuple[int, int]] = []  # (UIDVALIDITY, UID) to flag \Seen

    def _connect(self) -> imaplib.IMAP4:
        if self.use_ssl:
            return imaplib.IMAP4_SSL(
                self.host,
                self.port,
                ssl_context=ssl.create_default_context(),
                timeout=self.timeout_seconds,
            )
        return imaplib.IMAP4(self.host, self.port, timeout=self.timeout_seconds)

    def fetch(self, cursor: str | None, limit: int) -> list[RawMail]:
        try:
            imap = self._connect()
        except (OSError, imaplib.IMAP4.error) as error:
            raise ConnectorUnavailable(f"IMAP {self.host}:{self.port}: {error}") from error
        try:
            return self._fetch(imap, cursor, limit)
        except (OSError, imaplib.IMAP4.error, ValueError) as error:
            raise ConnectorUnavailable(f"IMAP {self.host}:{self.port}: {error}") from error
        finally:
            try:
                imap.logout()
            except Exception:  # the connection is gone already: nothing to close
                log.debug("IMAP logout failed", exc_info=True)

    def _fetch(self, imap: imaplib.IMAP4, cursor: str | None, limit: int) -> list[RawMail]:
        imap.login(self.user, self.password)
        _ok(imap.select(_quoted(self.folder)))
        validity = int(_ok(imap.response("UIDVALIDITY"))[0])
        self._flag_taken(imap, validity)
        position = parse_cursor(cursor)
        last = position[1] if position is not None and position[0] == validity else 0
        found = _ok(imap.uid("SEARCH", f"UID {last + 1}:*"), may_be_empty=True)
        # "n:*" names the last message even when its UID is below n: keep only the new ones.
        uids = sorted(u for u in (int(x) for x in (found[0] or b"").split()) if u > last)
        mails = []
        for uid in uids[:limit]:
            data = _literal(_ok(imap.uid("FETCH", str(uid), "(BODY.PEEK[])"), may_be_empty=True))
            location = f"{self.folder};UIDVALIDITY={validity};UID={uid}"
            if data is None:  # expunged meanwhile: nothing to take, move past it
                log.warning("IMAP message %s vanished before it was read", location)
                continue
            mails.append(RawMail(location, data, f"{validity}:{uid}"))
        return mails

    def processed(self, mail: RawMail) -> None:
        position = parse_cursor(mail.cursor)
        if position is not None:
            self._taken.append(position)

    def _flag_taken(self, imap: imaplib.IMAP4, validity: int) -> None:
        uids = [str(uid) for v, uid in self._taken if v == validity]
        self._taken = []
        if uids:
            imap.uid("STORE", ",".join(uids), "+FLAGS.SILENT", r"(\Seen)")


def _ok(answer: tuple[str, list[Any]], *, may_be_empty: bool = False) -> list[Any]:
    status, data = answer
    if status not in ("OK", "UIDVALIDITY"):
        raise imaplib.IMAP4.error(f"{status}: {data!r}"[:200])
    if not may_be_empty and (not data or data[0] is None):
        raise imaplib.IMAP4.error(f"no answer data for {status}")
    return data or [None]


def _literal(data: list[Any]) -> bytes | None:
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _quoted(folder: str) -> str:
    if folder.startswith('"') or not any(c in folder for c in ' "\\(){%*'):
        return folder
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FolderMailSource:
    """A folder of ``.eml`` files (tests, or a mail system that drops messages as files).

    Each file taken is moved to ``done/`` inside the folder; the cursor is not used.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.done = folder / "done"

    def fetch(self, cursor: str | None, limit: int) -> list[RawMail]:
        if not self.folder.is_dir():  # glob would find nothing, and the poll look fine
            raise ConnectorUnavailable(f"mail folder {self.folder}: no such folder")
        try:
            files = sorted(p for p in self.folder.glob("*.eml") if p.is_file())
            return [RawMail(p.name, p.read_bytes(), None) for p in files[:limit]]
        except OSError as error:
            raise ConnectorUnavailable(f"mail folder {self.folder}: {error}") from error

    def processed(self, mail: RawMail) -> None:
        try:
            self.done.mkdir(exist_ok=True)
            os.replace(self.folder / mail.location, self.done / mail.location)
        except OSError as error:
            raise ConnectorUnavailable(f"mail folder {self.folder}: {error}") from error


class SmtpMailer:
    """Sends through an SMTP server: implicit TLS (``use_ssl``), STARTTLS, or plain (loopback)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        user: str | None = None,
        password: str | None = None,
        use_ssl: bool = False,
        starttls: bool = True,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.user = user
        self.password = password
        self.use_ssl = use_ssl
        self.starttls = starttls
        self.timeout_seconds = timeout_seconds

    def send(self, mail: OutgoingMail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Message-ID"] = mail.message_id
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(mail.body)
        try:
            with self._connect() as smtp:
                if self.starttls and not self.use_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if all(code >= 500 for code in codes):
                raise ConnectorRejected(f"SMTP refused the recipient ({codes})") from error
            raise ConnectorUnavailable(f"SMTP {self.host}:{self.port}: {codes}") from error
        except smtplib.SMTPResponseException as error:
            # The server's text may quote the address: only the code is kept (and logged).
            what = f"SMTP {self.host}:{self.port}: {type(error).__name__} {error.smtp_code}"
            if error.smtp_code >= 500 and not isinstance(error, smtplib.SMTPAuthenticationError):
                raise ConnectorRejected(what) from error
            raise ConnectorUnavailable(what) from error
        except OSError as error:
            raise ConnectorUnavailable(f"SMTP {self.host}:{self.port}: {error}") from error
        except smtplib.SMTPException as error:
            what = f"SMTP {self.host}:{self.port}: {type(error).__name__}"
            raise ConnectorUnavailable(what) from error

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=self.timeout_seconds,
                context=ssl.create_default_context(),
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
