"""Bearer tokens: HS256 JWTs with a shared secret (development and tests)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from application.access import Principal, Role
from application.errors import AuthenticationFailed

REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]


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


class SharedSecretTokens:
    """Verifies and issues HS256 tokens; the algorithm is pinned, ``exp`` is required."""

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

    def authenticate(self, token: str) -> Principal:
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
        return principal_from_claims(claims, self._roles_claim, self._units_claim)

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
