"""Development mode (HS256, shared secret): the same bad tokens are refused as in OIDC mode."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from interfaces.cli import cli
from tests.e2e.conftest import SECRET, Api
from tests.support import complaint_body

ISSUER = "aduan-dev"
AUDIENCE = "aduan"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    fields: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "siti",
        "exp": now + 300,
        "iat": now,
        "roles": ["intake_officer"],
        "units": ["ULPK-PUSAT"],
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def create(api: Api, token: str) -> Any:
    return api.client.post(
        "/v1/complaints", json=complaint_body(), headers={"Authorization": f"Bearer {token}"}
    )


def assert_unauthenticated(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_signed_with_the_secret_is_accepted(sqlite_api: Api) -> None:
    assert create(sqlite_api, jwt.encode(claims(), SECRET, algorithm="HS256")).status_code == 201


@pytest.mark.parametrize(
    "case",
    ["expired", "wrong audience", "wrong issuer", "missing exp", "missing sub"],
)
def test_a_token_with_bad_claims_is_401(sqlite_api: Api, case: str) -> None:
    overrides: dict[str, Any] = {
        "expired": {"exp": int(time.time()) - 3600},
        "wrong audience": {"aud": "another-service"},
        "wrong issuer": {"iss": "someone-else"},
        "missing exp": {"exp": None},
        "missing sub": {"sub": None},
    }[case]
    assert_unauthenticated(
        create(sqlite_api, jwt.encode(claims(**overrides), SECRET, algorithm="HS256"))
    )


def test_an_alg_none_token_is_401(sqlite_api: Api) -> None:
    head = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    assert_unauthenticated(create(sqlite_api, f"{head}.{_b64(json.dumps(claims()).encode())}."))


def test_a_token_signed_with_another_secret_is_401(sqlite_api: Api) -> None:
    token = jwt.encode(claims(), "another-secret-" + "z" * 32, algorithm="HS256")
    assert_unauthenticated(create(sqlite_api, token))


def test_a_tampered_payload_is_401(sqlite_api: Api) -> None:
    head, _, signature = jwt.encode(claims(), SECRET, algorithm="HS256").split(".")
    richer = _b64(json.dumps(claims(roles=["admin"], units=["*"])).encode())
    assert_unauthenticated(create(sqlite_api, f"{head}.{richer}.{signature}"))


def test_an_rs256_token_is_401_in_development_mode(sqlite_api: Api) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_unauthenticated(create(sqlite_api, jwt.encode(claims(), key, algorithm="RS256")))


def test_the_token_command_prints_an_accepted_token(
    sqlite_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sqlite_api.container.settings
    monkeypatch.setenv("ADUAN_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ADUAN_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("ADUAN_JWT_SECRET", SECRET)
    monkeypatch.delenv("ADUAN_OIDC_JWKS_URL", raising=False)
    result = CliRunner().invoke(
        cli, ["token", "--sub", "siti", "--role", "intake_officer", "--unit", "ULPK-PUSAT"]
    )
    assert result.exit_code == 0, result.output
    assert create(sqlite_api, result.output.strip()).status_code == 201
