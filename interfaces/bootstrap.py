"""The composition root: builds every part of aduan from typed settings, and nothing else does."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from application.access import Principal, Role
from application.complaints import Complaints
from application.ports import Clock
from infrastructure.calendars import HolidayCalendars
from infrastructure.clock import SystemClock, SystemRandomness
from infrastructure.persistence import event_store_env, positions_for
from infrastructure.reference_data import PolicyBook, shipped_units
from infrastructure.settings import Settings
from infrastructure.tokens import SharedSecretTokens
from interfaces.http.app import create_app
from interfaces.http.deps import Services

log = logging.getLogger("aduan")

DEV_ROLES = (Role.INTAKE_OFFICER, Role.TECHNICAL_OFFICER, Role.UNIT_HEAD)


@dataclass
class Container:
    """Everything one process runs with."""

    settings: Settings
    complaints: Complaints
    tokens: SharedSecretTokens
    fingerprint_key: bytes
    generated_dev_secret: bool

    def http_app(self) -> FastAPI:
        return create_app(
            Services(
                complaints=self.complaints,
                authenticator=self.tokens,
                max_body_bytes=self.settings.max_body_bytes,
                fingerprint_key=self.fingerprint_key,
            )
        )

    def development_token(self) -> str:
        return self.tokens.issue("dev", [r.value for r in DEV_ROLES], ["*"])

    def close(self) -> None:
        self.complaints.close()


def operator() -> Principal:
    """Whoever runs the CLI on the server: agency-wide, read-only use."""
    return Principal("cli", frozenset({Role.AUDITOR, Role.UNIT_HEAD}), frozenset({"*"}))


def _secret_file(var_dir: Path, name: str) -> str:
    path = var_dir / name
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(value)
    return value


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    env_overrides: Mapping[str, str] | None = None,
) -> Container:
    settings = settings or Settings()
    generated = False
    if settings.jwt_secret is not None:
        jwt_secret = settings.jwt_secret.get_secret_value()
    else:
        jwt_secret = _secret_file(settings.var_dir, "dev-jwt-secret")
        generated = True
    tokens = SharedSecretTokens(
        jwt_secret,
        settings.jwt_issuer,
        settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        roles_claim=settings.jwt_roles_claim,
        units_claim=settings.jwt_units_claim,
    )
    root_secret = (
        settings.master_key.get_secret_value() if settings.master_key is not None else jwt_secret
    )
    fingerprint_key = hmac.new(
        root_secret.encode(), b"aduan:idempotency-fingerprint", hashlib.sha256
    ).digest()
    env = event_store_env(settings) | dict(env_overrides or {})
    complaints = Complaints(
        env,
        clock=clock or SystemClock(),
        randomness=SystemRandomness(),
        units=shipped_units(),
        policies=PolicyBook.shipped(),
        calendars=HolidayCalendars(),
        positions=positions_for,
    )
    return Container(settings, complaints, tokens, fingerprint_key, generated)
