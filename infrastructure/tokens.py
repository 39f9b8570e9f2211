"""Bearer tokens: OIDC access tokens checked against the issuer's JWKS, or HS256 (development)."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt

from application.access import Principal, Role
from application.errors import AuthenticationFailed

REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
# Asymmetric only, and each tied to one key type: a token cannot pick HMAC or "none", nor sign
# with an RSA key under an EC algorithm (algorithm confusion).
OIDC_ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}
MAX_JWKS_BYTES = 1024 * 1024
log = logging.getLogger("aduan.tokens")


def _claim(claims: dict[str, Any], path: str) -> Any:
    """Follow a dotted claim path, e.g. ``realm_access.roles`` in a Keycloak token."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def principal_from_claims(claims: dict[str, Any], roles_claim: str, units_claim: str) -> Principal:
    roles = _claim(claims, roles_claim) or []
    units = _claim(claims, units_claim) or []
    if not isinstance(roles, list) or not isinstance(units, list):
        raise AuthenticationFailed("the roles and units claims must be lists")
    known = {r.value for r in Role}
    return Principal(
        sub=str(claims["sub"]),
        roles=frozenset(Role(r) for r in roles if r in known),
        units=frozenset(str(u) for u in units),
    )


class VerifiedTokens:
    """Tokens that verified, each with its principal, until it expires (``exp`` + leeway).

    A client sends the same bearer token with every request: checking its signature and claims
    again gives the same answer until it expires (a later ``nbf`` or ``iat`` cannot appear in
    a token already accepted), so the answer is kept. Only successes are kept, at most
    ``max_tokens`` (least recently used go first), and an expired one is never answered.
    """

    def __init__(self, max_tokens: int = 4096, clock: Callable[[], float] = time.time) -> None:
        self._max = max_tokens
        self._clock = clock
        self._tokens: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                return None
            if self._clock() >= found[1]:
                del self._tokens[token]
                return None
            self._tokens.move_to_end(token)
            return found[0]

    def put(self, token: str, principal: Principal, until: float) -> None:
        with self._lock:
            self._tokens[token] = (principal, until)
            self._tokens.move_to_end(token)
            while len(self._tokens) > self._max:
                self._tokens.popitem(last=False)


class SharedSecretTokens:
    """Verifies and issues HS256 tokens; the algorithm is pinned, ``exp`` is required."""

    blocking = False  # CPU only: the HTTP layer checks tokens on its event loop

    def __init__(
        self,
        secret: str,
        issuer: str,
        audience: str,
        *,
        leeway_seconds: int = 30,
        roles_claim: str = "roles",
        units_claim: str = "units",
    ) -> None:
        if len(secret.encode()) < 32:
            raise ValueError("ADUAN_JWT_SECRET must be at least 32 bytes")
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self._leeway = leeway_seconds
        self._roles_claim = roles_claim
        self._units_claim = units_claim
        self._verified = VerifiedTokens()

    def authenticate(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            return known
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise AuthenticationFailed(f"invalid token: {error}") from error
        found = principal_from_claims(claims, self._roles_claim, self._units_claim)
        self._verified.put(token, found, claims["exp"] + self._leeway)
        return found

    def issue(
        self,
        sub: str,
        roles: Iterable[str],
        units: Iterable[str],
        *,
        ttl: timedelta = timedelta(hours=12),
        now: datetime | None = None,
    ) -> str:
        issued = now or datetime.now(UTC)
        claims = {
            "sub": sub,
            "roles": list(roles),
            "units": list(units),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(issued.timestamp()),
            "exp": int((issued + ttl).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")


def _loopback(host: str | None) -> bool:
    return host in ("127.0.0.1", "::1", "localhost")


def fetch_jwks(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """The key set document at ``url`` (at most 1 MiB of JSON)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # the scheme was checked
        raw = answer.read(MAX_JWKS_BYTES + 1)
    if len(raw) > MAX_JWKS_BYTES:
        raise ValueError("the JWKS document is larger than 1 MiB")
    document = json.loads(raw)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the JWKS document has no 'keys' list")
    return document


def usable_keys(document: dict[str, Any]) -> dict[str | None, jwt.PyJWK]:
    """Signing keys by ``kid``: RSA for RS256 and P-256 for ES256; anything else is left out."""
    keys: dict[str | None, jwt.PyJWK] = {}
    for data in document["keys"]:
        if not isinstance(data, dict) or data.get("use", "sig") != "sig":
            continue
        kty = data.get("kty")
        algorithm = next((a for a, t in OIDC_ALGORITHMS.items() if t == kty), None)
        if algorithm is None or data.get("alg", algorithm) != algorithm:
            continue
        if kty == "EC" and data.get("crv") != "P-256":
            continue
        try:
            keys[data.get("kid")] = jwt.PyJWK(data, algorithm)
        except jwt.PyJWTError as error:
            log.warning("JWKS key %r left out: %s", data.get("kid"), error)
    return keys


class JwksTokens:
    """Verifies OIDC access tokens (RS256/ES256) with the issuer's published keys.

    The key set is fetched lazily (an identity provider that is down at startup does not stop
    the service) and cached for ``cache_seconds``. A token naming an unknown ``kid`` causes one
    refetch (the issuer rotated its keys), at most once per ``refetch_seconds``, so a stream of
    made-up kids cannot turn into a stream of fetches. If a fetch fails, the keys already known
    stay in use and the next try waits ``refetch_seconds``; with no keys known, tokens are
    rejected (401) until a fetch succeeds.
    """

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        *,
        leeway_seconds: int = 30,
        roles_claim: str = "roles",
        units_claim: str = "units",
        cache_seconds: float = 300.0,
        refetch_seconds: float = 10.0,
        fetch: Callable[[str], dict[str, Any]] = fetch_jwks,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(jwks_url)
        if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname)):
            raise ValueError("ADUAN_OIDC_JWKS_URL must be https:// (http:// only on loopback)")
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self._leeway = leeway_seconds
        self._roles_claim = roles_claim
        self._units_claim = units_claim
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._fetch = fetch
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._failed_at: float | None = None  # last fetch, if it failed
        self._unknown_kid_at: float | None = None  # last refetch for an unknown kid

    def authenticate(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise AuthenticationFailed(f"invalid token: {error}") from error
        algorithm = header.get("alg")
        if algorithm not in OIDC_ALGORITHMS:
            raise AuthenticationFailed(
                f"invalid token: algorithm {algorithm!r} is not accepted "
                f"(only {', '.join(OIDC_ALGORITHMS)})"
            )
        kid = header.get("kid")
        key = self._signing_key(kid if isinstance(kid, str) else None)
        if key.algorithm_name != algorithm:
            raise AuthenticationFailed(
                f"invalid token: key {kid!r} is for {key.algorithm_name}, not {algorithm}"
            )
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise AuthenticationFailed(f"invalid token: {error}") from error
        return principal_from_claims(claims, self._roles_claim, self._units_claim)

    def issue(self, *_: Any, **__: Any) -> str:
        raise RuntimeError(
            "tokens come from the identity provider (ADUAN_OIDC_JWKS_URL is set); "
            "aduan issues HS256 tokens only in development mode"
        )

    def _signing_key(self, kid: str | None) -> jwt.PyJWK:
        with self._lock:
            fetched = False
            if self._stale() and not self._backing_off():
                fetched = self._refresh()
            key = self._pick(kid)
            if key is None and not fetched and self._may_refetch_for_unknown_kid():
                # The issuer may have rotated its keys since the last fetch.
                self._unknown_kid_at = self._monotonic()
                self._refresh()
                key = self._pick(kid)
        if key is not None:
            return key
        if not self._keys:
            raise AuthenticationFailed(
                "the token cannot be verified: the identity provider's keys are unavailable"
            )
        raise AuthenticationFailed(f"invalid token: unknown signing key {kid!r}")

    def _pick(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return (
            self._fetched_at is None or self._monotonic() - self._fetched_at >= self._cache_seconds
        )

    def _backing_off(self) -> bool:
        """Shortly after a failed fetch: do not try again on every request."""
        return (
            self._failed_at is not None
            and self._monotonic() - self._failed_at < self._refetch_seconds
        )

    def _may_refetch_for_unknown_kid(self) -> bool:
        if self._backing_off():
            return False
        return (
            self._unknown_kid_at is None
            or self._monotonic() - self._unknown_kid_at >= self._refetch_seconds
        )

    def _refresh(self) -> bool:
        """Fetch the key set; on failure keep the keys already known. True when it was fetched."""
        try:
            keys = usable_keys(self._fetch(self.jwks_url))
        except Exception as error:  # any failure: keep the keys known
            log.warning("cannot fetch the JWKS from %s: %s", self.jwks_url, error)
            self._failed_at = self._monotonic()
            return False
        self._keys = keys
        self._fetched_at = self._monotonic()
        self._failed_at = None
        return True
