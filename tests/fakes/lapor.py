"""A fake SP4N-LAPOR! on a loopback port, speaking the assumed wire format of docs/lapor.md.

It serves the reports assigned to the agency (a cursor is the sequence number of the last one
listed) and the activity on them (reporters' comments and withdrawals, and each update with a
message the agency posts, echoed back as the agency's comment, as a real peer's feed would),
records every update and forward it receives by Idempotency-Key (counting repeats),
and can be told to answer 500, to hang up after taking an update in (a lost answer), or be
stopped and started again on the same port (connections refused meanwhile).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support_server import free_port

TOKEN = "lapor-test-token"


@dataclass
class Received:
    """One update or forward as LAPOR! took it (the first time its key came)."""

    key: str
    tracking_id: str
    path: str
    body: dict[str, Any]
    times: int = 1


@dataclass
class FakeLapor:
    port: int = field(default_factory=free_port)
    token: str = TOKEN
    reports: list[dict[str, Any]] = field(default_factory=list)
    activity: list[dict[str, Any]] = field(default_factory=list)
    received: dict[str, Received] = field(default_factory=dict)
    requests: int = 0
    failing: int = 0  # answer 500 to this many requests, then recover
    broken: bool = False  # answer 500 to everything until cleared
    failing_activity: int = 0  # answer 500 to this many activity listings, then recover
    dropping: int = 0  # take this many updates in, then hang up without answering
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- the peer's data ------------------------------------------------------------------

    def assign(
        self, tracking_id: str, *, title: str = "Kosmetik tanpa izin edar", **extra: Any
    ) -> dict[str, Any]:
        """A report LAPOR! assigns to the agency."""
        report = {
            "tracking_id": tracking_id,
            "title": title,
            "content": extra.pop("content", f"Isi laporan {tracking_id}: krim pemutih dijual."),
            "classification": extra.pop("classification", "pengaduan"),
            "category": extra.pop("category", "Kosmetik"),
            "submitted_at": extra.pop("submitted_at", "2026-11-01T10:00:00+07:00"),
            "assigned_at": extra.pop("assigned_at", "2026-11-02T08:00:00+07:00"),
            "anonymous": extra.pop("anonymous", False),
            "confidential": extra.pop("confidential", False),
            "reporter": extra.pop(
                "reporter", {"name": "Wati", "email": "wati@example.id", "phone": "0812345678"}
            ),
            **extra,
        }
        with self._lock:
            self.reports.append(report)
        return report

    def comment(
        self,
        tracking_id: str,
        text: str,
        *,
        type: str = "comment",
        author: str = "reporter",
        at: str = "2026-11-03T09:00:00+07:00",
    ) -> dict[str, Any]:
        """Something happens on LAPOR! to a report: by default the reporter comments on it."""
        with self._lock:
            item = {
                "activity_id": f"ACT-{len(self.activity) + 1}",
                "tracking_id": tracking_id,
                "type": type,
                "author": {"type": author},
                "text": text,
                "at": at,
            }
            self.activity.append(item)
        return item

    def updates_for(self, tracking_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received.values() if r.tracking_id == tracking_id]

    def repeats(self) -> int:
        """How many requests came again with a key already received."""
        with self._lock:
            return sum(r.times - 1 for r in self.received.values())

    # --- the server -----------------------------------------------------------------------

    def start(self) -> FakeLapor:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go away: connections to the port are refused until ``start``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
        self._server = self._thread = None

    # --- request handling -----------------------------------------------------------------

    def _answer(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        with self._lock:
            self.requests += 1
            if self.broken:
                return 500, {"error": "internal error"}
            if self.failing > 0:
                self.failing -= 1
                return 500, {"error": "internal error"}
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "bad token"}
        parts = urlsplit(raw_path)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if method == "GET" and segments == ["v1", "agency", "reports"]:
            return 200, self._listing(parse_qs(parts.query))
        if method == "GET" and segments == ["v1", "agency", "activity"]:
            with self._lock:
                if self.failing_activity > 0:
                    self.failing_activity -= 1
                    return 500, {"error": "internal error"}
            return 200, self._activity(parse_qs(parts.query))
        if method == "POST" and segments[:3] == ["v1", "agency", "reports"] and len(segments) == 5:
            return self._receive(segments[3], segments[4], headers, body)
        return 404, {"error": "not found"}

    def _listing(self, query: dict[str, list[str]]) -> dict[str, Any]:
        after = int(query.get("cursor", ["0"])[0])
        limit = int(query.get("limit", ["100"])[0])
        with self._lock:
            page = self.reports[after : after + limit]
            total = len(self.reports)
        return {
            "reports": page,
            "next_cursor": str(after + len(page)),
            "has_more": after + len(page) < total,
        }

    def _activity(self, query: dict[str, list[str]]) -> dict[str, Any]:
        after = int(query.get("cursor", ["0"])[0])
        limit = int(query.get("limit", ["100"])[0])
        with self._lock:
            page = self.activity[after : after + limit]
            total = len(self.activity)
        return {
            "items": page,
            "next_cursor": str(after + len(page)),
            "has_more": after + len(page) < total,
        }

    def _receive(self, tracking_id: str, action: str, headers: Any, body: bytes) -> tuple[int, Any]:
        key = headers.get("Idempotency-Key")
        if not key:
            return 400, {"error": "Idempotency-Key required"}
        if action not in ("updates", "forward"):
            return 404, {"error": "not found"}
        with self._lock:
            if not any(r["tracking_id"] == tracking_id for r in self.reports):
                return 404, {"error": f"no report {tracking_id}"}
            try:
                payload = json.loads(body)
            except ValueError:
                return 400, {"error": "not JSON"}
            if action == "updates" and payload.get("type") not in ("status", "follow_up"):
                return 422, {"error": "type must be status or follow_up"}
            if action == "forward" and not payload.get("target_agency"):
                return 422, {"error": "target_agency required"}
            try:
                datetime.fromisoformat(payload["occurred_at"])
            except (KeyError, TypeError, ValueError):
                return 422, {"error": "occurred_at must be an ISO 8601 instant"}
            seen = self.received.get(key)
            if seen is not None:
                seen.times += 1
                return 200, {"id": key, "replayed": True}
            self.received[key] = Received(key, tracking_id, action, payload)
            if payload.get("message"):  # the agency's text shows in the report's feed
                self.activity.append(
                    {
                        "activity_id": f"ACT-{len(self.activity) + 1}",
                        "tracking_id": tracking_id,
                        "type": "comment",
                        "author": {"type": "agency"},
                        "text": payload["message"],
                        "at": payload["occurred_at"],
                    }
                )
            if self.dropping > 0:
                self.dropping -= 1
                return 0, None  # taken in, but the answer is lost
        return 201, {"id": key}


def _handler(fake: FakeLapor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = fake._answer(method, self.path, self.headers, body)
            if status == 0:
                self.close_connection = True
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:  # quiet in test output
            pass

    return Handler
