"""Typed settings from the environment (and an optional .env file); read only by bootstrap."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ADUAN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./var/aduan.db"
    redis_url: str | None = None
    redis_prefix: str = "aduan:"
    var_dir: Path = Path("./var")

    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "aduan-dev"
    jwt_audience: str = "aduan"
    jwt_leeway_seconds: int = 30
    oidc_jwks_url: str | None = None
    jwt_roles_claim: str = "roles"
    jwt_units_claim: str = "units"
    # OIDC mode (ADUAN_OIDC_JWKS_URL set): how long the key set is trusted before a refetch, and
    # the least time between two refetches an unknown ``kid`` may trigger.
    oidc_jwks_cache_seconds: float = 300.0
    oidc_jwks_refetch_seconds: float = 10.0

    master_key: SecretStr | None = None
    # Signs audit checkpoints (Ed25519): base64 or hex of a 32-byte seed. Default: derived from
    # the master key (or the JWT secret) with HMAC-SHA256, like the other derived secrets.
    audit_signing_key: SecretStr | None = None

    max_body_bytes: int = 64 * 1024
    # Record-creating requests per caller (token bucket; 0 turns the limit off), shared through
    # Redis when ADUAN_REDIS_URL is set, per process otherwise or while Redis is down.
    rate_limit_per_minute: int = 60
    rate_limit_burst: int = 30
    # Comma-separated origins allowed by CORS (unset: no CORS headers at all).
    cors_origins: str | None = None
    # Behind HTTPS (a TLS-terminating proxy): send Strict-Transport-Security.
    behind_https: bool = False
    postgres_pool_size: int = 5
    postgres_max_overflow: int = 10
    postgres_connect_timeout: int = 5
    postgres_lock_timeout: int = 5
    postgres_schema: str | None = None
    # Circuit breaker in front of PostgreSQL (both pools): after db_breaker_failures failures in
    # a row to reach it, every call fails at once (503 + Retry-After) for db_breaker_open_seconds,
    # then one probe goes through and closes it on success. 0 failures turns it off.
    db_breaker_failures: int = 1
    db_breaker_open_seconds: float = 2.0
    # Group commit of creates on PostgreSQL: one writer saves, in one transaction, whatever
    # creates are waiting (at most max_batch). A create may wait queued_seconds in the queue;
    # a full queue answers 503.
    group_commit: bool = True
    group_commit_queue_size: int = 1024
    group_commit_max_batch: int = 64
    group_commit_queued_seconds: float = 5.0

    projection_poll_seconds: float = 1.0
    projection_batch_size: int = 2000
    projection_catch_up_batch_size: int = 20000
    read_wait_seconds: float = 5.0

    # SLA alerts: how often the timer scans; where the notifier POSTs them (unset: kept in the
    # outbox, readable through the API).
    sla_timer_seconds: float = 5.0
    alert_webhook_url: str | None = None
    notifier_seconds: float = 5.0
    alert_webhook_timeout_seconds: float = 10.0

    # SP4N-LAPOR! connector (docs/lapor.md): off while the URL is unset. Assigned reports are
    # polled every lapor_poll_seconds and filed at lapor_intake_unit; the outbox is drained
    # every lapor_send_seconds, a failed message retried after 10 s, 20 s, ... at most
    # lapor_longest_wait_seconds.
    lapor_url: str | None = None
    lapor_token: SecretStr | None = None
    lapor_poll_seconds: float = 60.0
    lapor_send_seconds: float = 5.0
    lapor_timeout_seconds: float = 10.0
    lapor_intake_unit: str = "ULPK-PUSAT"
    lapor_first_retry_seconds: float = 10.0
    lapor_longest_wait_seconds: float = 3600.0
    # The public side (/v1/public/...): the unit that takes in cases filed there; how many wrong
    # PINs a tracking number, and a client, may send within the window before being refused;
    # how often the timer archives cases silent past the policy's archive_after_silence.
    public_intake_unit: str = "ULPK-PUSAT"
    pin_max_failures: int = 5
    pin_client_max_failures: int = 20
    pin_failure_window_seconds: float = 900.0
    archive_timer_seconds: float = 60.0
    # Open311 GeoReport v2 facade (/open311/v2/, docs/open311.md): on by default; when keys are
    # set (comma-separated), POST requests.json needs one of them as api_key.
    open311: bool = True
    open311_api_keys: SecretStr | None = None
    # Email intake (docs/email.md): off while neither an IMAP host nor an .eml folder is set.
    # Every email_poll_seconds new messages become cases at email_intake_unit (or replies on
    # the case whose acknowledgement, <ack.{case id}@email_domain>, they answer).
    email_imap_host: str | None = None
    email_imap_port: int | None = None  # unset: 993 with SSL, 143 without
    email_imap_user: str | None = None
    email_imap_password: SecretStr | None = None
    email_imap_ssl: bool = True
    email_imap_folder: str = "INBOX"
    email_folder: Path | None = None  # a folder of .eml files instead of IMAP
    email_poll_seconds: float = 60.0
    email_timeout_seconds: float = 30.0
    email_intake_unit: str = "ULPK-PUSAT"
    email_domain: str = "aduan.invalid"
    # The acknowledgement email of an email case goes out through SMTP (off while no host is
    # set): every email_send_seconds, a failed one retried after 10 s, 20 s, ... at most
    # email_longest_wait_seconds. Port unset: 465 with SSL, else 587 (STARTTLS unless off).
    email_smtp_host: str | None = None
    email_smtp_port: int | None = None
    email_smtp_user: str | None = None
    email_smtp_password: SecretStr | None = None
    email_smtp_ssl: bool = False
    email_smtp_starttls: bool = True
    email_from: str | None = None  # unset: pengaduan@{email_domain}
    email_send_seconds: float = 5.0
    email_first_retry_seconds: float = 10.0
    email_longest_wait_seconds: float = 3600.0
    # Messaging gateways (POST /v1/inbound/{channel}, docs/inbound.md): a JSON object of channel
    # (whatsapp, sms, social_media, live_chat, mobile_app) to its shared HMAC secret; a channel
    # without one answers 404. A signature's timestamp may be inbound_window_seconds off; a
    # message id is remembered inbound_retention_seconds (pruned every inbound_prune_seconds).
    inbound_secrets: SecretStr | None = None
    inbound_window_seconds: float = 300.0
    inbound_retention_seconds: float = 7 * 24 * 3600.0
    inbound_prune_seconds: float = 3600.0
    inbound_intake_unit: str = "ULPK-PUSAT"

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise ValueError(
                "ADUAN_DATABASE_URL must be postgresql://user@host:port/db or sqlite:///path"
            )
        return value
