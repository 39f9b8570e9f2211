"""A minimal IMAP4rev1 server on a loopback port: just enough of RFC 3501 for ``imaplib``.

CAPABILITY, LOGIN, SELECT (with UIDVALIDITY), UID SEARCH, UID FETCH (BODY.PEEK[], BODY[],
RFC822), UID STORE, NOOP and LOGOUT on one folder whose messages the test adds. It can be
stopped and started again on the same port (connections refused meanwhile).
"""

from __future__ import annotations

import re
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.support_server import free_port

USER = "pengaduan"
PASSWORD = 'rahasia "imap"'


@dataclass
class StoredMessage:
    uid: int
    data: bytes
    flags: set[str] = field(default_factory=set)


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\([^)]*\))|(\S+)')


def _tokens(text: str) -> list[str]:
    found = []
    for quoted, group, atom in _TOKEN.findall(text):
        if quoted or (not group and not atom):
            found.append(re.sub(r"\\(.)", r"\1", quoted))
        else:
            found.append(group or atom)
    return found


def _uid_set(text: str, highest: int) -> set[int] | None:
    """The UIDs a sequence set names ("5", "2:4", "1,3", "7:*"); None if malformed."""
    chosen: set[int] = set()
    for piece in text.split(","):
        low, _, high = piece.partition(":")
        try:
            first = highest if low == "*" else int(low)
            last = first if not high else (highest if high == "*" else int(high))
        except ValueError:
            return None
        chosen.update(range(min(first, last), max(first, last) + 1))
    return chosen


@dataclass
class FakeImap:
    port: int = field(default_factory=free_port)
    user: str = USER
    password: str = PASSWORD
    folder: str = "INBOX"
    uidvalidity: int = 1001
    messages: list[StoredMessage] = field(default_factory=list)
    logins: int = 0
    _next_uid: int = 1
    _server: socketserver.ThreadingTCPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, data: bytes) -> int:
        """A message arrives in the folder; its UID."""
        with self._lock:
            uid = self._next_uid
            self._next_uid += 1
            self.messages.append(StoredMessage(uid, data))
            return uid

    def seen(self) -> list[int]:
        with self._lock:
            return [m.uid for m in self.messages if "\\Seen" in m.flags]

    def start(self) -> FakeImap:
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                fake._serve(self)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    # --- the protocol ---------------------------------------------------------------------

    def _serve(self, handler: socketserver.StreamRequestHandler) -> None:
        def send(line: str | bytes) -> None:
            handler.wfile.write(line if isinstance(line, bytes) else line.encode() + b"\r\n")

        send("* OK fake IMAP4rev1 ready")
        selected = False
        authenticated = False
        while True:
            raw = handler.rfile.readline()
            if not raw:
                return
            tag, _, rest = raw.decode("utf-8", errors="replace").rstrip("\r\n").partition(" ")
            args = _tokens(rest)
            command = args[0].upper() if args else ""
            if command == "CAPABILITY":
                send("* CAPABILITY IMAP4rev1")
                send(f"{tag} OK CAPABILITY done")
            elif command == "NOOP":
                send(f"{tag} OK NOOP done")
            elif command == "LOGOUT":
                send("* BYE logging out")
                send(f"{tag} OK LOGOUT done")
                return
            elif command == "LOGIN":
                if args[1:3] == [self.user, self.password]:
                    authenticated = True
                    with self._lock:
                        self.logins += 1
                    send(f"{tag} OK LOGIN done")
                else:
                    send(f"{tag} NO [AUTHENTICATIONFAILED] wrong user or password")
            elif not authenticated:
                send(f"{tag} BAD log in first")
            elif command in ("SELECT", "EXAMINE"):
                if len(args) < 2 or args[1] != self.folder:
                    send(f"{tag} NO no such folder")
                    continue
                selected = True
                with self._lock:
                    count, next_uid = len(self.messages), self._next_uid
                send(f"* {count} EXISTS")
                send("* 0 RECENT")
                send(f"* OK [UIDVALIDITY {self.uidvalidity}] UIDs valid")
                send(f"* OK [UIDNEXT {next_uid}] predicted next UID")
                send("* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)")
                send(f"{tag} OK [READ-WRITE] SELECT done")
            elif command == "UID" and selected and len(args) >= 3:
                self._uid_command(tag, args[1].upper(), args[2:], send)
            else:
                send(f"{tag} BAD unknown or unexpected command")

    def _uid_command(
        self, tag: str, verb: str, args: list[str], send: Callable[[str | bytes], None]
    ) -> None:
        with self._lock:
            messages = list(self.messages)
        highest = max((m.uid for m in messages), default=0)
        if verb == "SEARCH":
            criteria = [a.upper() for a in args]
            wanted = {m.uid for m in messages}
            if criteria[:1] == ["UID"] and len(args) > 1:
                named = _uid_set(args[1], highest)
                if named is None:
                    send(f"{tag} BAD bad UID set")
                    return
                wanted &= named
            elif criteria not in (["ALL"], []):
                send(f"{tag} BAD only UID and ALL searches")
                return
            send("* SEARCH" + "".join(f" {uid}" for uid in sorted(wanted)))
            send(f"{tag} OK SEARCH done")
        elif verb == "FETCH" and len(args) >= 2:
            named = _uid_set(args[0], highest)
            if named is None:
                send(f"{tag} BAD bad UID set")
                return
            for number, message in enumerate(messages, 1):
                if message.uid in named:
                    head = f"* {number} FETCH (UID {message.uid} BODY[] {{{len(message.data)}}}"
                    send(head.encode() + b"\r\n" + message.data + b")\r\n")
                    if "PEEK" not in args[1].upper():
                        message.flags.add("\\Seen")
            send(f"{tag} OK FETCH done")
        elif verb == "STORE" and len(args) >= 3:
            named = _uid_set(args[0], highest) or set()
            flags = args[2].strip("()").split()
            with self._lock:
                for message in self.messages:
                    if message.uid in named:
                        message.flags.update(flags)
            send(f"{tag} OK STORE done")
        else:
            send(f"{tag} BAD unknown UID command")
