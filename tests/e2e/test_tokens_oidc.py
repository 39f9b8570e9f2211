"""OIDC mode: access tokens checked against a JWKS served locally, as a Keycloak realm would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from typer.testing import CliRunner

from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap
from interfaces.cli import cli
from tests.support import complaint_body

ISSUER = "https://sso.pom.go.id/realms/aduan"
AUDIENCE = "aduan"
LEEWAY = 30
HS_SECRET = "hs256-secret-" + "y" * 32


class JwksServer:
    """A JWKS endpoint on 127.0.0.1 that counts how often it is fetched."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/realms/aduan/certs"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Signer:
    """A private key and its public JWK, as the identity provider holds them."""

    def __init__(self, kind: str, kid: str) -> None:
        self.kid = kid
        if kind == "RS256":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.algorithm = kind
        self.jwk |= {"kid": kid, "use": "sig", "alg": kind}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid} | header
        )


def keycloak_claims(**overrides: Any) -> dict[str, Any]:
    """An access token as a Keycloak realm issues it, with aduan's roles and a units mapper."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": [AUDIENCE, "account"],
        "sub": "f3c1a2de-0000-4000-8000-000000000001",
        "exp": now + 300,
        "iat": now,
        "typ": "Bearer",
        "azp": "aduan-web",
        "preferred_username": "siti",
        "realm_access": {"roles": ["intake_officer", "offline_access", "uma_authorization"]},
        "units": ["ULPK-PUSAT"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture(scope="module")
def rsa_key() -> Signer:
    return Signer("RS256", "rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> Signer:
    return Signer("ES256", "ec-1")


@pytest.fixture
def jwks(rsa_key: Signer, ec_key: Signer) -> Iterator[JwksServer]:
    server = JwksServer()
    server.keys = [rsa_key.jwk, ec_key.jwk]
    yield server
    server.close()


def oidc_settings(jwks: JwksServer, tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path}/aduan.db",
        var_dir=tmp_path,
        oidc_jwks_url=jwks.url,
        # Set as well, to show it is not accepted beside the JWKS.
        jwt_secret=HS_SECRET,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_leeway_seconds=LEEWAY,
        jwt_roles_claim="realm_access.roles",
        jwt_units_claim="units",
        # No second refetch within a test, whatever its speed.
        oidc_jwks_refetch_seconds=3600,
    )


@pytest.fixture
def service(jwks: JwksServer, tmp_path: Path) -> Iterator[tuple[TestClient, Container]]:
    container = bootstrap(oidc_settings(jwks, tmp_path))
    try:
        with TestClient(container.http_app(), raise_server_exceptions=False) as client:
            yield client, container
    finally:
        container.close()


@pytest.fixture
def client(service: tuple[TestClient, Container]) -> TestClient:
    return service[0]


def create(client: TestClient, token: str) -> Any:
    return client.post(
        "/v1/complaints", json=complaint_body(), headers={"Authorization": f"Bearer {token}"}
    )


def assert_unauthenticated(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401


def test_a_keycloak_style_rs256_token_is_accepted_with_roles_from_realm_access(
    client: TestClient, rsa_key: Signer
) -> None:
    response = create(client, rsa_key.sign(keycloak_claims()))
    assert response.status_code == 201, response.text


def test_an_es256_token_is_accepted(client: TestClient, ec_key: Signer) -> None:
    assert create(client, ec_key.sign(keycloak_claims())).status_code == 201


def test_roles_outside_the_configured_claim_path_grant_nothing(
    client: TestClient, rsa_key: Signer
) -> None:
    claims = keycloak_claims(realm_access={"roles": []}, roles=["intake_officer"])
    assert create(client, rsa_key.sign(claims)).status_code == 403


def test_the_jwks_is_fetched_lazily_and_then_cached(
    client: TestClient, jwks: JwksServer, rsa_key: Signer, ec_key: Signer
) -> None:
    assert jwks.fetches == 0
    for signer in (rsa_key, ec_key, rsa_key):
        assert create(client, signer.sign(keycloak_claims())).status_code == 201
    assert jwks.fetches == 1


def test_a_skew_within_the_leeway_is_tolerated(client: TestClient, rsa_key: Signer) -> None:
    claims = keycloak_claims(exp=int(time.time()) - LEEWAY // 3)
    assert create(client, rsa_key.sign(claims)).status_code == 201


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "wrong audience",
        "wrong issuer",
        "missing exp",
        "missing sub",
        "missing iss",
        "missing aud",
        "expired beyond the leeway",
        "not yet valid beyond the leeway",
    ],
)
def test_a_token_with_bad_claims_is_401(client: TestClient, rsa_key: Signer, case: str) -> None:
    now = int(time.time())
    overrides: dict[str, Any] = {
        "expired": {"exp": now - 3600},
        "wrong audience": {"aud": ["account", "another-service"]},
        "wrong issuer": {"iss": "https://sso.example.com/realms/aduan"},
        "missing exp": {"exp": None},
        "missing sub": {"sub": None},
        "missing iss": {"iss": None},
        "missing aud": {"aud": None},
        "expired beyond the leeway": {"exp": now - LEEWAY - 15},
        "not yet valid beyond the leeway": {"nbf": now + LEEWAY + 60},
    }[case]
    assert_unauthenticated(create(client, rsa_key.sign(keycloak_claims(**overrides))))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any], **header: Any) -> str:
    head = _b64(json.dumps({"alg": "none", "typ": "JWT"} | header).encode())
    return f"{head}.{_b64(json.dumps(claims).encode())}."


def test_an_alg_none_token_is_401(client: TestClient) -> None:
    assert_unauthenticated(create(client, _unsigned(keycloak_claims(), kid="rsa-1")))


def test_an_hs256_token_signed_with_the_public_key_is_401(
    client: TestClient, rsa_key: Signer
) -> None:
    # Algorithm confusion: the public key, known to all, used as an HMAC secret.
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    body = _b64(json.dumps(keycloak_claims()).encode())
    mac = hmac.new(rsa_key.public_pem(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert_unauthenticated(create(client, f"{head}.{body}.{_b64(mac)}"))


def test_an_rs256_header_on_an_ec_key_is_401(client: TestClient, ec_key: Signer) -> None:
    token = ec_key.sign(keycloak_claims())
    _, body, signature = token.split(".")
    forged = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "ec-1"}).encode())
    assert_unauthenticated(create(client, f"{forged}.{body}.{signature}"))


def test_a_tampered_signature_is_401(client: TestClient, rsa_key: Signer) -> None:
    token = rsa_key.sign(keycloak_claims())
    head, body, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert_unauthenticated(create(client, f"{head}.{body}.{flipped}"))


def test_a_tampered_payload_is_401(client: TestClient, rsa_key: Signer) -> None:
    token = rsa_key.sign(keycloak_claims())
    head, _, signature = token.split(".")
    richer = keycloak_claims(units=["*"])
    assert_unauthenticated(
        create(client, f"{head}.{_b64(json.dumps(richer).encode())}.{signature}")
    )


def test_garbage_is_401(client: TestClient) -> None:
    assert_unauthenticated(create(client, "not-a-token"))


def test_an_hs256_token_is_401_in_jwks_mode_even_with_the_secret_set(
    client: TestClient,
) -> None:
    claims = keycloak_claims(roles=["intake_officer"])
    token = jwt.encode(claims, HS_SECRET, algorithm="HS256")
    assert_unauthenticated(create(client, token))


def test_an_unknown_kid_causes_one_refetch_and_then_401(
    client: TestClient, jwks: JwksServer, rsa_key: Signer
) -> None:
    assert create(client, rsa_key.sign(keycloak_claims())).status_code == 201
    assert jwks.fetches == 1
    stranger = Signer("RS256", "not-published")
    assert_unauthenticated(create(client, stranger.sign(keycloak_claims())))
    assert jwks.fetches == 2
    assert_unauthenticated(create(client, stranger.sign(keycloak_claims(), kid="another")))
    assert jwks.fetches == 2


def test_a_rotated_key_is_accepted_after_exactly_one_refetch(
    client: TestClient, jwks: JwksServer, rsa_key: Signer
) -> None:
    assert create(client, rsa_key.sign(keycloak_claims())).status_code == 201
    rotated = Signer("RS256", "rsa-2")
    jwks.keys = [rotated.jwk]
    assert create(client, rotated.sign(keycloak_claims())).status_code == 201
    assert jwks.fetches == 2
    assert create(client, rotated.sign(keycloak_claims())).status_code == 201
    assert jwks.fetches == 2
    # The retired key is gone from the set: its tokens no longer pass.
    assert_unauthenticated(create(client, rsa_key.sign(keycloak_claims())))


def test_an_unreachable_jwks_does_not_stop_the_service_and_tokens_are_401(
    tmp_path: Path, rsa_key: Signer
) -> None:
    server = JwksServer()
    url = server.url
    server.close()  # nothing listens there any more
    settings = oidc_settings(server, tmp_path).model_copy(update={"oidc_jwks_url": url})
    container = bootstrap(settings)
    try:
        with TestClient(container.http_app(), raise_server_exceptions=False) as client:
            assert client.get("/healthz").status_code == 200
            response = create(client, rsa_key.sign(keycloak_claims()))
            assert_unauthenticated(response)
            assert "keys are unavailable" in response.json()["detail"]
    finally:
        container.close()


def test_a_jwks_url_over_plain_http_is_refused_unless_on_loopback(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/aduan.db",
        var_dir=tmp_path,
        oidc_jwks_url="http://sso.pom.go.id/realms/aduan/certs",
    )
    with pytest.raises(ValueError, match="https"):
        bootstrap(settings)


def test_jwks_mode_gives_no_development_token(service: tuple[TestClient, Container]) -> None:
    container = service[1]
    assert not container.generated_dev_secret
    with pytest.raises(RuntimeError, match="OIDC"):
        container.development_token()


def test_the_token_command_refuses_in_jwks_mode(
    jwks: JwksServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADUAN_DATABASE_URL", f"sqlite:///{tmp_path}/aduan.db")
    monkeypatch.setenv("ADUAN_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("ADUAN_OIDC_JWKS_URL", jwks.url)
    result = CliRunner().invoke(
        cli, ["token", "--sub", "siti", "--role", "intake_officer", "--unit", "ULPK-PUSAT"]
    )
    assert result.exit_code == 2
    assert "HS256 development mode" in result.output
