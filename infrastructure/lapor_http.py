"""The SP4N-LAPOR! gateway over HTTPS, in the ASSUMED wire format of docs/lapor.md.

The real API is documented only for registered agencies: this adapter is the one place that
knows the wire format, so adapting to the real one changes this file and nothing else.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

from application.lapor import (
    ActivityPage,
    ConnectorRejected,
    ConnectorUnavailable,
    Forwarding,
    LaporReport,
    ReportActivity,
    ReportPage,
    StatusUpdate,
)
from domain.values import Reporter

# Answers that say "not now" rather than "never": retried with the same idempotency key.
_RETRYABLE = frozenset({408, 425, 429})
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a page of reports; anything larger is refused unread


class HttpLaporGateway:
    def __init__(self, base_url: str, token: str, *, timeout_seconds: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            # The token and reporters' data travel on this connection.
            raise ValueError("ADUAN_LAPOR_URL must be https:// (http:// only on loopback)")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_seconds = timeout_seconds
        # No proxy from stray environment variables: only settings configure the service.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def assigned_reports(self, cursor: str | None, limit: int) -> ReportPage:
        query = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        body = self._call("GET", f"/v1/agency/reports?{urllib.parse.urlencode(query)}")
        try:
            return ReportPage(
                reports=[report_from_wire(r) for r in body["reports"]],
                next_cursor=body.get("next_cursor"),
                has_more=bool(body.get("has_more", False)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConnectorUnavailable(f"unreadable report listing: {error}") from error

    def report_activity(self, cursor: str | None, limit: int) -> ActivityPage:
        query = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        body = self._call("GET", f"/v1/agency/activity?{urllib.parse.urlencode(query)}")
        try:
            return ActivityPage(
                items=[activity_from_wire(a) for a in body["items"]],
                next_cursor=body.get("next_cursor"),
                has_more=bool(body.get("has_more", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ConnectorUnavailable(f"unreadable activity listing: {error}") from error

    def send_update(self, update: StatusUpdate) -> None:
        self._call(
            "POST",
            f"/v1/agency/reports/{_segment(update.tracking_id)}/updates",
            update_to_wire(update),
            update.idempotency_key,
        )

    def forward(self, forwarding: Forwarding) -> None:
        self._call(
            "POST",
            f"/v1/agency/reports/{_segment(forwarding.tracking_id)}/forward",
            forwarding_to_wire(forwarding),
            forwarding.idempotency_key,
        )

    def _call(
        self, method: str, path: str, payload: dict[str, Any] | None = None, key: str | None = None
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with self._opener.open(request, timeout=self.timeout_seconds) as response:
                raw = response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode("utf-8", "replace")
            if error.code >= 500 or error.code in _RETRYABLE:
                raise ConnectorUnavailable(f"HTTP {error.code} {detail}") from error
            raise ConnectorRejected(f"HTTP {error.code} {detail}") from error
        except OSError as error:  # refused, reset, timed out (URLError is one too)
            raise ConnectorUnavailable(str(getattr(error, "reason", error))) from error
        if len(raw) > MAX_ANSWER_BYTES:
            raise ConnectorUnavailable("the answer is larger than 16 MiB")
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError as error:
            raise ConnectorUnavailable("the answer is not JSON") from error


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def report_from_wire(data: dict[str, Any]) -> LaporReport:
    submitted = datetime.fromisoformat(data["submitted_at"])
    if submitted.tzinfo is None:
        raise ValueError("submitted_at needs an offset")
    person = data.get("reporter") or None
    reporter = (
        Reporter(
            name=person.get("name") or None,
            email=person.get("email") or None,
            phone=person.get("phone") or None,
            address=person.get("address") or None,
        )
        if isinstance(person, dict)
        else None
    )
    assigned = datetime.fromisoformat(data["assigned_at"]) if data.get("assigned_at") else None
    if assigned is not None and assigned.tzinfo is None:
        raise ValueError("assigned_at needs an offset")
    tracking_id = str(data["tracking_id"]).strip()
    if not tracking_id:
        raise ValueError("a report without a tracking id")
    return LaporReport(
        tracking_id=tracking_id,
        title=str(data.get("title") or ""),
        content=str(data.get("content") or ""),
        classification=str(data.get("classification") or "pengaduan"),
        category=data.get("category"),
        submitted_at=submitted,
        anonymous=bool(data.get("anonymous", False)),
        confidential=bool(data.get("confidential", False)),
        reporter=reporter,
        assigned_at=assigned,
    )


def activity_from_wire(data: dict[str, Any]) -> ReportActivity:
    at = datetime.fromisoformat(data["at"])
    if at.tzinfo is None:
        raise ValueError("at needs an offset")
    activity_id = str(data["activity_id"]).strip()
    tracking_id = str(data["tracking_id"]).strip()
    if not activity_id or not tracking_id:
        raise ValueError("an activity item without an activity id or a tracking id")
    author = data.get("author") or {}
    return ReportActivity(
        activity_id=activity_id,
        tracking_id=tracking_id,
        type=str(data.get("type") or ""),
        author=str(author.get("type") or "").strip().lower(),
        text=str(data.get("text") or ""),
        at=at,
    )


def update_to_wire(update: StatusUpdate) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": update.type,
        "status": update.status,
        "occurred_at": update.occurred_at.isoformat(),
    }
    if update.message:
        body["message"] = update.message
    if update.outcome:
        body["outcome"] = update.outcome
    return body


def forwarding_to_wire(forwarding: Forwarding) -> dict[str, Any]:
    return {
        "target_agency": forwarding.target_agency,
        "reason": forwarding.reason,
        "occurred_at": forwarding.occurred_at.isoformat(),
    }
