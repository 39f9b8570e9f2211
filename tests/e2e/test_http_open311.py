"""The Open311 GeoReport v2 facade over HTTP: services, filing, public lists, the spec's errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from georeport import GeoReport

from infrastructure.read_models import CatalogReadSide
from infrastructure.settings import Settings
from interfaces.connectors_cli import open311_status
from interfaces.http.routes.open311 import NOTICE_REPLAY
from projections.read_side import wait_for
from tests.e2e.conftest import SECRET, Api, _api
from tests.support_server import serve_over_http

BASE = "/open311/v2"
FORM = {
    "service_code": "pangan_olahan",
    "description": "Susu UHT kedaluwarsa dijual\nDi rak depan toko.",
    "first_name": "Andi",
    "last_name": "Wijaya",
    "email": "andi@example.id",
    "phone": "+62 812 1111",
    "address_string": "Jl. Sudirman 1, Jakarta",
    "lat": "-6.2000",
    "long": "106.8166",
}
REQUEST_KEYS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


def post(api: Api, **fields: Any) -> Any:
    return api.client.post(f"{BASE}/requests.json", data=fields)


def filed(api: Api, **overrides: Any) -> tuple[str, str]:
    answer = post(api, **(FORM | overrides))
    assert answer.status_code == 200, answer.text
    [item] = answer.json()
    pin = re.search(r"PIN (\w+)", item["service_notice"])
    assert pin is not None, item
    return item["service_request_id"], pin.group(1)


def caught_up(api: Api) -> None:
    read_side = CatalogReadSide(api.container.catalog)
    for name in ("queues", "sla"):
        assert wait_for(read_side, name, api.stored_events(), 20), name


def case_id_of(api: Api, number: str) -> str:
    answer = api.client.get(
        "/v1/queues/ULPK-PUSAT",
        params={"after_position": api.stored_events(), "limit": 200},
        headers=api.headers("unit_head"),
    )
    assert answer.status_code == 200, answer.text
    [found] = [i["id"] for i in answer.json()["items"] if i["tracking_number"] == number]
    return str(found)


def act(api: Api, case_id: str, path: str, body: dict[str, Any]) -> None:
    headers = api.headers("unit_head")
    version = api.client.get(f"/v1/complaints/{case_id}", headers=headers).json()["version"]
    api.clock.advance(timedelta(minutes=30))
    answer = api.client.post(
        f"/v1/complaints/{case_id}/{path}",
        json=body,
        headers=api.headers("unit_head", version=version),
    )
    assert answer.status_code == 200, (path, answer.text)


def assert_errors(answer: Any, status: int) -> list[dict[str, Any]]:
    """The spec's error format: a JSON array of {code, description}."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert isinstance(body, list) and body, body
    for error in body:
        assert set(error) == {"code", "description"}
        assert error["code"] == status and error["description"]
    return body  # type: ignore[no-any-return]


def test_services_are_the_categories_and_errors_are_the_specs_array(sqlite_api: Api) -> None:
    answer = sqlite_api.client.get(f"{BASE}/services.json")
    assert answer.status_code == 200, answer.text
    services = answer.json()
    codes = [s["service_code"] for s in services]
    assert "pangan_olahan" in codes and "kosmetik" in codes and len(codes) == len(set(codes))
    for service in services:
        assert set(service) == {
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        }
        assert service["metadata"] is False and service["type"] == "realtime"
    definition = sqlite_api.client.get(f"{BASE}/services/kosmetik.json")
    assert definition.json() == {"service_code": "kosmetik", "attributes": []}
    assert_errors(sqlite_api.client.get(f"{BASE}/services/sabun.json"), 404)
    assert_errors(sqlite_api.client.get(f"{BASE}/nothing-here.json"), 404)
    assert_errors(sqlite_api.client.delete(f"{BASE}/services.json"), 405)
    discovery = sqlite_api.client.get(f"{BASE}/discovery.json").json()
    assert discovery["endpoints"][0]["url"].endswith(BASE)
    # Elsewhere, errors stay problem+json.
    other = sqlite_api.client.get("/v1/nothing-here")
    assert other.headers["content-type"].startswith("application/problem+json")


def test_a_form_post_files_a_web_case_whose_pin_opens_the_public_side(api: Api) -> None:
    number, pin = filed(api)
    tracked = api.client.get(f"/v1/public/complaints/{number}", headers={"X-Tracking-Pin": pin})
    assert tracked.status_code == 200, tracked.text
    assert tracked.json()["category"] == "pangan_olahan"
    assert tracked.json()["subject"] == "Pangan olahan: Susu UHT kedaluwarsa dijual"
    case = api.client.get(
        f"/v1/complaints/{case_id_of(api, number)}", headers=api.headers("unit_head")
    ).json()
    assert case["channel"] == "web" and case["intake_unit"] == "ULPK-PUSAT"
    assert case["reporter"]["name"] == "Andi Wijaya"
    assert case["reporter"]["email"] == "andi@example.id"
    # The location goes into the (encrypted) description, after the complainant's text.
    assert case["description"].startswith(FORM["description"])
    assert (
        "[Open311] Alamat: Jl. Sudirman 1, Jakarta; Koordinat: -6.200000, 106.816600"
        in (case["description"])
    )


def test_json_bodies_are_accepted_and_bad_input_stores_nothing(api: Api) -> None:
    answer = api.client.post(
        f"{BASE}/requests.json",
        json={
            "service_code": "kosmetik",
            "description": "Krim tanpa izin",
            "lat": -6.2,
            "long": 106.8,
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["account_id"] is None
    before = api.stored_events()
    assert_errors(post(api, description="x"), 400)  # no service_code
    assert_errors(post(api, service_code="sabun", description="x"), 404)
    assert_errors(post(api, service_code="kosmetik"), 400)  # no description
    assert_errors(post(api, service_code="kosmetik", description="x", lat="1"), 400)
    assert_errors(post(api, service_code="kosmetik", description="x", lat="91", long="0"), 400)
    assert_errors(post(api, service_code="kosmetik", description="x", colour="red"), 400)
    assert_errors(post(api, **{"service_code": "kosmetik", "attribute[a]": "1"}), 400)
    assert_errors(post(api, service_code="kosmetik", description="x" * 4001), 400)
    assert_errors(post(api, service_code="kosmetik", description="x", email="nope"), 400)
    broken = api.client.post(
        f"{BASE}/requests.json", content=b"{", headers={"content-type": "application/json"}
    )
    assert_errors(broken, 400)
    assert api.stored_events() == before


@pytest.fixture
def keyed_api(postgres_url: str, postgres_schema: str, tmp_path: Path) -> Iterator[Api]:
    """The service on PostgreSQL with Open311 API keys, and 2 creates per client at once."""
    yield from _api(
        Settings(
            database_url=postgres_url,
            jwt_secret=SECRET,
            var_dir=tmp_path,
            postgres_pool_size=2,
            postgres_schema=postgres_schema,
            projection_poll_seconds=0.2,
            open311_api_keys="key-one, key-two",
            rate_limit_per_minute=1,
            rate_limit_burst=3,
        )
    )


def test_with_keys_configured_a_post_needs_one_and_posts_are_rate_limited(keyed_api) -> None:
    before = keyed_api.stored_events()
    assert_errors(post(keyed_api, **FORM), 403)
    assert_errors(post(keyed_api, **FORM, api_key="key-three"), 403)
    assert keyed_api.stored_events() == before
    assert post(keyed_api, **FORM, api_key="key-two").status_code == 200
    limited = post(keyed_api, **FORM, api_key="key-one")
    errors = assert_errors(limited, 429)
    assert "retry" in errors[0]["description"] and int(limited.headers["Retry-After"]) >= 1
    metrics = keyed_api.client.get("/metrics").text
    for result, times in (("filed", 1), ("api_key", 2), ("rate_limited", 1)):
        line = (
            f'aduan_connector_inbound_total{{connector="open311",kind="request",result="{result}"}}'
        )
        assert f"{line} {times}.0" in metrics, result
    status = open311_status(keyed_api.container)
    assert (status["delivered"], status["rejected"]) == (1, 2)  # 429s: in the metrics only


@pytest.mark.parametrize("database", ["api", "sqlite_api"])
def test_a_post_repeated_with_its_idempotency_key_files_once(
    database: str, request: pytest.FixtureRequest
) -> None:
    api: Api = request.getfixturevalue(database)
    key = {"Idempotency-Key": "app-7f3a-0001"}
    first = api.client.post(f"{BASE}/requests.json", data=FORM, headers=key)
    assert first.status_code == 200, first.text
    [item] = first.json()
    assert "PIN" in item["service_notice"]
    stored = api.stored_events()

    again = api.client.post(f"{BASE}/requests.json", data=FORM, headers=key)  # after a timeout
    assert again.status_code == 200, again.text
    assert again.json()[0]["service_request_id"] == item["service_request_id"]
    assert again.json()[0]["service_notice"] == NOTICE_REPLAY  # the PIN is never shown twice
    other = api.client.post(
        f"{BASE}/requests.json", data=FORM | {"description": "Lain"}, headers=key
    )
    assert "Idempotency-Key" in assert_errors(other, 400)[0]["description"]
    bad_key = api.client.post(
        f"{BASE}/requests.json", data=FORM, headers={"Idempotency-Key": "with space"}
    )
    assert "Idempotency-Key" in assert_errors(bad_key, 400)[0]["description"]
    assert api.stored_events() == stored
    # Another key (or none) is another request.
    assert post(api, **FORM).json()[0]["service_request_id"] != item["service_request_id"]

    metrics = api.client.get("/metrics").text
    for result, times in (
        ("filed", 2),
        ("replayed", 1),
        ("idempotency_key_reused", 1),
        ("invalid", 1),
    ):
        line = (
            f'aduan_connector_inbound_total{{connector="open311",kind="request",result="{result}"}}'
        )
        assert f"{line} {times}.0" in metrics, result
    status = open311_status(api.container)
    assert status["configured"] is True and status["url"] == BASE
    assert (status["delivered"], status["rejected"], status["failed"]) == (2, 2, 0)
    assert status["last_success_at"] == api.clock.now() and status["last_error"] is None


def test_the_lists_show_open_and_closed_public_cases_and_nothing_private(api: Api) -> None:
    open_number, _ = filed(api)
    closed_number, _ = filed(api, service_code="kosmetik", description="Krim merkuri")
    api.clock.advance(timedelta(hours=1))
    secret = api.client.post(
        "/v1/public/complaints",
        json={
            "kind": "complaint",
            "category": "obat",
            "subject": "Rahasia",
            "description": "x",
            "confidential": True,
        },
    ).json()["tracking_number"]
    wbs = api.client.post(
        "/v1/public/complaints",
        json={
            "kind": "complaint",
            "category": "obat",
            "subject": "WBS",
            "description": "x",
            "channel": "wbs",
        },
    ).json()["tracking_number"]
    ethics, _ = filed(api, service_code="etika_pegawai", description="Pegawai minta uang")
    case_id = case_id_of(api, closed_number)
    act(api, case_id, "acknowledge", {"message": "Diterima"})
    act(api, case_id, "close", {"outcome": "substantiated", "answer": "Produk ditarik"})
    caught_up(api)

    answer = api.client.get(f"{BASE}/requests.json")
    assert answer.status_code == 200, answer.text
    listed = {r["service_request_id"]: r for r in answer.json()}
    assert set(listed) == {open_number, closed_number}  # never confidential, WBS or restricted
    for item in listed.values():
        assert set(item) == REQUEST_KEYS
        assert item["description"] is None and item["address"] is None
    text = answer.text
    for private in ("Andi", "andi@example.id", "812", "Sudirman", "Susu", "Produk ditarik"):
        assert private not in text
    opened, closed = listed[open_number], listed[closed_number]
    assert opened["status"] == "open" and opened["status_notes"] == "received"
    assert opened["service_name"] == "Pangan olahan" and opened["service_code"] == "pangan_olahan"
    assert opened["agency_responsible"] == "ULPK-PUSAT"
    requested = datetime.fromisoformat(opened["requested_datetime"].replace("Z", "+00:00"))
    expected = datetime.fromisoformat(opened["expected_datetime"].replace("Z", "+00:00"))
    assert requested.tzinfo is not None and expected > requested  # the close stage's due instant
    assert closed["status"] == "closed" and closed["status_notes"] == "closed: substantiated"
    assert closed["expected_datetime"] is None
    assert closed["updated_datetime"] > closed["requested_datetime"]

    def numbers(**params: str) -> list[str]:
        found = api.client.get(f"{BASE}/requests.json", params=params)
        assert found.status_code == 200, found.text
        return [r["service_request_id"] for r in found.json()]

    assert numbers(status="closed") == [closed_number]
    assert numbers(status="open") == [open_number]
    assert numbers(service_code="kosmetik") == [closed_number]
    assert numbers(service_request_id=f"{open_number},{secret},{wbs},{ethics},NOPE") == [
        open_number
    ]
    later = (api.clock.now() + timedelta(days=1)).astimezone(UTC).isoformat()
    assert numbers(start_date=later) == []
    assert numbers(page="2", page_size="1") != numbers(page="1", page_size="1")

    one = api.client.get(f"{BASE}/requests/{open_number}.json")
    assert one.status_code == 200 and one.json() == [opened]
    for hidden in (secret, wbs, ethics, "NOPE-NOPE-NOP"):
        assert_errors(api.client.get(f"{BASE}/requests/{hidden}.json"), 404)
    assert_errors(api.client.get(f"{BASE}/requests.json", params={"status": "pending"}), 400)
    assert_errors(api.client.get(f"{BASE}/requests.json", params={"start_date": "yesterday"}), 400)
    assert_errors(
        api.client.get(
            f"{BASE}/requests.json",
            params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        ),
        400,
    )
    assert_errors(api.client.get(f"{BASE}/requests.json", params={"page_size": "0"}), 400)


def test_dates_far_out_of_range_are_a_400_not_a_500(sqlite_api: Api) -> None:
    # The 90-day window around them cannot be computed (it answered 500).
    for params in (
        {"end_date": "0001-01-01T00:00:00Z"},
        {"start_date": "9999-12-31T00:00:00Z"},
        {"start_date": "0001-01-01T00:00:00+14:00", "end_date": "0001-01-02T00:00:00Z"},
        {"start_date": "1999-12-31T00:00:00Z"},
    ):
        [error] = assert_errors(sqlite_api.client.get(f"{BASE}/requests.json", params=params), 400)
        assert "between 2000-01-01" in error["description"], params
    fine = {"start_date": "2000-01-01T00:00:00Z", "end_date": "2000-02-01T00:00:00+07:00"}
    assert sqlite_api.client.get(f"{BASE}/requests.json", params=fine).json() == []


def test_the_openapi_document_describes_the_facade_and_its_error_format(sqlite_api: Api) -> None:
    document = sqlite_api.client.get("/openapi.json").json()
    post_request = document["paths"][f"{BASE}/requests.json"]["post"]
    assert "application/x-www-form-urlencoded" in post_request["requestBody"]["content"]
    error = post_request["responses"]["403"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Open311Errors"}
    assert f"{BASE}/requests/{{service_request_id}}.json" in document["paths"]


def test_an_open311_client_library_reads_the_facade_over_http(tmp_path: Path) -> None:
    """georeport (PyPI) against the real server on loopback, SQLite behind it."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/aduan.db",
        jwt_secret=SECRET,
        var_dir=tmp_path,
        projection_poll_seconds=0.1,
    )
    with serve_over_http(settings) as (url, container):
        client = GeoReport(url + BASE)
        codes = {s["service_code"] for s in client.get_service_list()}
        assert "pangan_olahan" in codes
        assert client.get_service_definition("obat")["attributes"] == []
        import requests

        answer = requests.post(f"{url}{BASE}/requests.json", data=FORM, timeout=10)
        assert answer.status_code == 200, answer.text
        number = answer.json()[0]["service_request_id"]
        read_side = CatalogReadSide(container.catalog)
        position = container.complaints.recorder.max_notification_id() or 0
        assert wait_for(read_side, "queues", position, 20)
        assert wait_for(read_side, "sla", position, 20)
        listed = client.get_service_requests(service_code="pangan_olahan", status="open")
        assert [r["service_request_id"] for r in listed] == [number]
        one = client.get_service_request(number)
        assert one["status"] == "open" and one["service_code"] == "pangan_olahan"
        # A client that lost the answer to its POST sends it again with its Idempotency-Key.
        keyed = {"Idempotency-Key": "retry-after-timeout-1"}
        first = requests.post(f"{url}{BASE}/requests.json", data=FORM, headers=keyed, timeout=10)
        again = requests.post(f"{url}{BASE}/requests.json", data=FORM, headers=keyed, timeout=10)
        assert first.status_code == again.status_code == 200, again.text
        assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
        status = open311_status(container)
        assert (status["delivered"], status["rejected"]) == (2, 0)
