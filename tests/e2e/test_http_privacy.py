"""Personal data over HTTP: a planted email is nowhere in the database, before or after erasure."""

from __future__ import annotations

import logging
import secrets
import sqlite3
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support import complaint_body

INTAKE = ("intake_officer",)
JAKARTA = {"units": ("BBPOM-JAKARTA",), "sub": "budi"}
SUBJECT = complaint_body()["subject"]


def _planted() -> tuple[str, str]:
    token = secrets.token_hex(6)
    return f"planted-{token}@example.id", f"Planted Name {token}"


def _text(value: object) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", errors="ignore")
    return str(value)


def _postgres_hits(url: str, schema: str, needles: tuple[str, ...]) -> list[str]:
    """Every table of the test's schema (and public), every column, as text and bytea decoded."""
    hits = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE'",
            ([schema, "public"],),
        ).fetchall()
        assert len(tables) >= 5, tables
        for table_schema, table in tables:
            rows = conn.execute(
                sql.SQL("SELECT * FROM {}.{}").format(
                    sql.Identifier(table_schema), sql.Identifier(table)
                )
            ).fetchall()
            for row in rows:
                for value in row:
                    text = _text(value)
                    hits += [f"{table}: {n}" for n in needles if n in text]
    return hits


def _sqlite_hits(files: list[Path], needles: tuple[str, ...]) -> list[str]:
    hits = []
    for path in files:
        with sqlite3.connect(path) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    for value in row:
                        text = _text(value)
                        hits += [f"{path.name}/{table}: {n}" for n in needles if n in text]
    return hits


def _file(api, email: str, name: str, **overrides) -> dict:
    body = complaint_body(
        reporter={"name": name, "email": email, "phone": "+62 812 9999 0000"},
        description=f"Pelapor ({email}) membeli krim tanpa izin edar",
        **overrides,
    )
    created = api.client.post("/v1/complaints", json=body, headers=api.headers(*INTAKE))
    assert created.status_code == 201, created.text
    return created.json()


def _command(api, case: dict, path: str, body: dict, *roles: str, **who) -> dict:
    answer = api.client.post(
        f"/v1/complaints/{case['id']}/{path}",
        json=body,
        headers=api.headers(*roles, version=case["version"], **who),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _caught_up(api, position: int) -> None:
    wait = {"after_position": position}
    auditor = api.headers("auditor", units=("*",), sub="inspektorat")
    assert api.client.get("/v1/queues/ULPK-PUSAT", params=wait, headers=auditor).status_code == 200
    assert api.client.get("/v1/audit/log", params=wait, headers=auditor).status_code == 200
    monev = {"year": 2026, "quarter": 4} | wait
    assert api.client.get("/v1/reports/monev", params=monev, headers=auditor).status_code == 200


def test_a_planted_email_is_in_no_table_and_no_log_line_before_or_after_erasure(
    api, postgres_url, postgres_schema, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    email, name = _planted()
    case = _file(api, email, name, anonymous=True, confidential=True)
    case = _command(api, case, "acknowledge", {"message": "diterima"}, *INTAKE)
    case = _command(api, case, "route", {"to_unit": "BBPOM-JAKARTA", "note": "periksa"}, *INTAKE)
    note = {"action": "clarification", "note": f"menghubungi {email}", "public": False}
    case = _command(api, case, "follow-ups", note, "technical_officer", **JAKARTA)
    _caught_up(api, case["position"])
    assert _postgres_hits(postgres_url, postgres_schema, (email, name)) == []
    # The scan does find text that is kept in clear (the subject, in the events and read models).
    assert len(_postgres_hits(postgres_url, postgres_schema, (SUBJECT,))) >= 2

    # The intake unit sees the reporter; the unit the anonymous case was routed to does not.
    mine = api.client.get(f"/v1/complaints/{case['id']}", headers=api.headers(*INTAKE)).json()
    assert mine["reporter"]["email"] == email and mine["reporter"]["name"] == name
    assert email in mine["description"]
    jakarta = api.headers("technical_officer", **JAKARTA)
    theirs = api.client.get(f"/v1/complaints/{case['id']}", headers=jakarta).json()
    assert theirs["reporter"] == {"anonymous": True}
    history = api.client.get(f"/v1/complaints/{case['id']}/history", headers=jakarta).json()
    assert history["events"][0]["data"]["reporter"] == "[redacted]"
    # The free text is the complaint itself: the unit handling it reads it (and its own notes).
    assert email in history["events"][0]["data"]["description"]
    assert history["events"][3]["data"]["note"] == f"menghubungi {email}"

    # Reads of the confidential case were logged: auditors see who read it.
    auditor = api.headers("auditor", units=("*",), sub="inspektorat")
    log = api.client.get(
        "/v1/audit/access-log", params={"complaint_id": case["id"]}, headers=auditor
    ).json()
    assert [(e["sub"], e["route"]) for e in log["items"]] == [
        ("siti", "GET /v1/complaints/{id}"),
        ("budi", "GET /v1/complaints/{id}"),
        ("budi", "GET /v1/complaints/{id}/history"),
    ]
    assert api.client.get("/v1/audit/access-log", headers=jakarta).status_code == 403

    # Erasure: admins only, with If-Match, once.
    admin = api.headers("admin", units=("*",), sub="admin", version=case["version"])
    path = f"/v1/complaints/{case['id']}/erase-reporter"
    reason = {"reason": "permintaan pelapor no. 12/2026"}
    unit_head = api.headers("unit_head", version=case["version"])
    assert api.client.post(path, json=reason, headers=unit_head).status_code == 403
    no_if_match = api.headers("admin", units=("*",), sub="admin")
    assert api.client.post(path, json=reason, headers=no_if_match).status_code == 428
    erased = api.client.post(path, json=reason, headers=admin)
    assert erased.status_code == 200, erased.text
    erased = erased.json()
    again = api.headers("admin", units=("*",), sub="admin", version=erased["version"])
    twice = api.client.post(path, json=reason, headers=again)
    assert twice.status_code == 409 and twice.headers["content-type"] == "application/problem+json"

    _caught_up(api, erased["position"])
    after = api.client.get(f"/v1/complaints/{case['id']}", headers=api.headers(*INTAKE)).json()
    assert after["reporter"] == {"erased": True} and after["description"] == "[erased]"
    assert after["status"] == "in_follow_up" and after["version"] == erased["version"]
    events = api.client.get(
        f"/v1/complaints/{case['id']}/history", headers=api.headers(*INTAKE)
    ).json()["events"]
    assert events[0]["data"]["reporter"] == "[erased]"
    assert events[3]["data"]["note"] == "[erased]"
    assert events[-1]["type"] == "ReporterErased" and events[-1]["actor"]["sub"] == "admin"
    assert _postgres_hits(postgres_url, postgres_schema, (email, name)) == []

    # The statistics and the audit chain are untouched.
    verify = api.client.get("/v1/audit/verify", headers=auditor).json()
    assert verify["ok"] is True
    queue = api.client.get(
        "/v1/queues/BBPOM-JAKARTA", params={"after_position": erased["position"]}, headers=jakarta
    ).json()
    assert [i["id"] for i in queue["items"]] == [case["id"]]
    recap = api.client.get(
        "/v1/reports/monev", params={"year": 2026, "quarter": 4}, headers=auditor
    ).json()
    assert recap["totals"]["cases"] == 1
    with psycopg.connect(postgres_url) as conn:
        keys = conn.execute(
            sql.SQL("SELECT wrapped_key IS NULL, erased_at IS NOT NULL FROM {}.{}").format(
                sql.Identifier(postgres_schema), sql.Identifier("aduan_reporter_keys")
            )
        ).fetchall()
    assert (True, True) in keys

    assert not [r for r in caplog.records if email in r.getMessage() or name in r.getMessage()]


def test_on_the_embedded_default_the_planted_email_is_in_no_sqlite_table(
    sqlite_api, tmp_path
) -> None:
    api = sqlite_api
    email, name = _planted()
    case = _file(api, email, name)
    _caught_up(api, case["position"])
    files = sorted(tmp_path.glob("*.db"))
    assert len(files) == 2, files  # the event store and the read models
    assert _sqlite_hits(files, (email, name)) == []
    assert {hit.split("/")[0] for hit in _sqlite_hits(files, (SUBJECT,))} == {f.name for f in files}
    shown = api.client.get(f"/v1/complaints/{case['id']}", headers=api.headers(*INTAKE)).json()
    assert shown["reporter"]["email"] == email
