"""The composition root: builds every part of aduan from typed settings, and nothing else does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import redis
from fastapi import FastAPI

from application.access import Principal, Role
from application.admin import Administration
from application.archiving import SilenceArchiver
from application.complaints import Complaints
from application.email_intake import EmailAckSender, EmailConnector, EmailIntake
from application.inbound import InboundMessages
from application.lapor import LaporConnector
from application.open311 import Open311
from application.ports import Clock
from application.privacy import PersonalData
from application.public import PublicDesk
from domain.units import UnitDirectory
from domain.vocabulary import Channel
from infrastructure.access_log import SqlAccessLog
from infrastructure.alerts import SqlAlertStore, UrllibTransport
from infrastructure.attempts import LocalAttempts, RedisAttempts
from infrastructure.breaker import CircuitBreaker, guard_pool
from infrastructure.calendars import HolidayCalendars
from infrastructure.clock import SystemClock, SystemRandomness
from infrastructure.configuration import LiveConfiguration
from infrastructure.connector_tally import SqlConnectorTally
from infrastructure.crypto import AesGcmEnvelope
from infrastructure.email_store import SqlEmailStore
from infrastructure.event_log import (
    ApplicationLog,
    LocalLocks,
    PostgresEventLog,
    PostgresListener,
    PostgresLocks,
)
from infrastructure.feeds import LocalFeed, RedisFeed
from infrastructure.group_commit import GroupCommitter
from infrastructure.inbound_store import SqlInboundStore
from infrastructure.keystore import SqlKeyStore
from infrastructure.lapor_http import HttpLaporGateway
from infrastructure.lapor_store import SqlLaporStore
from infrastructure.mailbox import FolderMailSource, ImapMailSource, SmtpMailer
from infrastructure.metrics import Metrics
from infrastructure.persistence import (
    event_store_env,
    ping_when_idle,
    positions_for,
    read_database_path,
)
from infrastructure.ratelimit import LocalRateLimiter, RedisRateLimiter
from infrastructure.read_models import Catalog, CatalogReadSide, SqlView, StalePosition
from infrastructure.readstore import PostgresReadDatabase, ReadDatabase, SQLiteReadDatabase
from infrastructure.reference_data import PolicyBook, shipped_units
from infrastructure.settings import Settings
from infrastructure.tokens import JwksTokens, SharedSecretTokens
from infrastructure.views.audit import SqlAuditView
from infrastructure.views.duplicates import SqlDuplicateView
from infrastructure.views.monev import SqlMonevView
from infrastructure.views.open311 import SqlOpen311Listing
from infrastructure.views.queues import SqlQueueView
from infrastructure.views.sla import SqlSlaView
from infrastructure.views.surveys import SqlSurveyView
from infrastructure.workers import PeriodicJob, PeriodicJobs, ReadModelWorker
from interfaces.http.app import create_app
from interfaces.http.deps import Services
from projections.audit.checkpoints import CheckpointSigner
from projections.audit.projection import AuditProjection
from projections.duplicates.projection import DuplicateProjection
from projections.email.outbox import EmailOutboxProjection
from projections.lapor.outbox import LaporOutboxProjection
from projections.monev.projection import MonevProjection
from projections.queues.feed import QueueFeed, queue_messages
from projections.queues.projection import QueueProjection
from projections.read_side import wait_for
from projections.runner import Binding, Projection, Runner, Ticker, run_to_head
from projections.sla.alerts import Alert
from projections.sla.projection import SlaProjection
from projections.sla.timer import Notifier, SlaTimer
from projections.surveys.projection import SurveyProjection

log = logging.getLogger("aduan")

DEV_ROLES = (Role.INTAKE_OFFICER, Role.TECHNICAL_OFFICER, Role.UNIT_HEAD)


@dataclass
class Container:
    """Everything one process runs with."""

    settings: Settings
    complaints: Complaints
    tokens: SharedSecretTokens | JwksTokens  # one mode per process, never both
    fingerprint_key: bytes
    generated_dev_secret: bool
    clock: Clock
    read_db: ReadDatabase
    catalog: Catalog
    projections: dict[str, Projection[Any]]
    metrics: Metrics
    ticker: Ticker
    queue_feed: QueueFeed
    worker: ReadModelWorker | None = None
    jobs: PeriodicJobs | None = None
    listener: PostgresListener | None = None
    audit_signer: CheckpointSigner | None = None
    alerts: SqlAlertStore | None = None
    admin: Administration | None = None
    rate_limiter: LocalRateLimiter | RedisRateLimiter | None = None
    committer: GroupCommitter | None = None  # creates' group commit (PostgreSQL only)
    lapor: SqlLaporStore | None = None  # the SP4N-LAPOR! outbox and poll state
    public: PublicDesk | None = None  # the complainant's side (/v1/public/...)
    breaker: CircuitBreaker | None = None  # fail fast while PostgreSQL is gone
    email: SqlEmailStore | None = None  # the email intake's processed messages
    inbound_store: SqlInboundStore | None = None  # messaging gateways' messages and counts
    inbound: InboundMessages | None = None  # POST /v1/inbound/{channel}; None: no channel on

    def http_app(self) -> FastAPI:
        return create_app(
            Services(
                complaints=self.complaints,
                authenticator=self.tokens,
                max_body_bytes=self.settings.max_body_bytes,
                fingerprint_key=self.fingerprint_key,
                read_side=CatalogReadSide(self.catalog),
                clock=self.clock,
                metrics=self.metrics.exposition,
                wait_seconds=self.settings.read_wait_seconds,
                queue_feed=self.queue_feed,
                event_log=self.event_log(),
                admin=self.admin,
                rate_limiter=self.rate_limiter,
                cors_origins=_origins(self.settings.cors_origins),
                hsts=self.settings.behind_https,
                committer=self.committer,
                public=self.public,
                open311=_open311(self.settings, self.catalog, self.read_db, self.metrics),
                inbound=self.inbound,
            )
        )

    def announce(self, name: str, changes: Any, position: int) -> None:
        """After a committed batch: tell live feeds what changed."""
        if name == "queues":
            for unit, message in queue_messages(changes, position):
                self.queue_feed.publish(unit, message)

    def event_log(self) -> ApplicationLog:
        if isinstance(self.read_db, PostgresReadDatabase):
            return PostgresEventLog(self.complaints, self.read_db)
        return ApplicationLog(self.complaints)

    def locks(self) -> PostgresLocks | LocalLocks:
        if isinstance(self.read_db, PostgresReadDatabase):
            return PostgresLocks(self.read_db)
        return LocalLocks()

    def start_background(self, only: list[str] | None = None) -> None:
        """Run the read models (and, later, the timers) in this process's threads."""
        chosen = {n: p for n, p in self.projections.items() if not only or n in only}
        jobs = [j for j in periodic_jobs(self) if not only or j.name in only]
        known = [*self.projections, *(j.name for j in periodic_jobs(self))]
        unknown = sorted(set(only or ()) - set(known))
        if unknown:
            raise ValueError(f"no background work named {unknown}; known: {known}")
        locks = self.locks()
        self.worker = ReadModelWorker(
            self.catalog,
            chosen,
            self.event_log(),
            locks,
            self.ticker,
            self.metrics,
            poll_seconds=self.settings.projection_poll_seconds,
            batch_size=self.settings.projection_batch_size,
            on_commit=self.announce,
            catch_up_batch_size=self.settings.projection_catch_up_batch_size,
        )
        self.complaints.saved_listeners.append(lambda _: self.ticker.wake())
        if isinstance(self.read_db, PostgresReadDatabase):
            self.listener = PostgresListener(self.complaints, self.read_db, self.ticker.wake)
            self.listener.start()
        self.worker.start()
        self.jobs = PeriodicJobs(jobs, locks)
        self.jobs.start()

    def stop_background(self) -> None:
        for part in (self.jobs, self.worker, self.listener):
            if part is not None:
                part.stop()
        self.jobs = self.worker = self.listener = None

    def development_token(self) -> str:
        """An HS256 token for trying the API (development mode only)."""
        if not isinstance(self.tokens, SharedSecretTokens):
            raise RuntimeError("no development tokens: ADUAN_OIDC_JWKS_URL is set")
        return self.tokens.issue("dev", [r.value for r in DEV_ROLES], ["*"])

    def close(self) -> None:
        if self.committer is not None:
            self.committer.stop()
        self.stop_background()
        self.read_db.close()
        self.complaints.close()


def periodic_jobs(container: Container) -> list[PeriodicJob]:
    """Timers that run beside the read models (each a single instance across processes)."""
    settings = container.settings
    timer = sla_timer(container)
    jobs = [
        PeriodicJob(
            "sla-timer", settings.sla_timer_seconds, lambda: timer.tick(container.clock.now())
        )
    ]
    archiver = silence_archiver(container)
    jobs.append(
        PeriodicJob(
            "archive-timer",
            settings.archive_timer_seconds,
            lambda: archiver.tick(container.clock.now()),
        )
    )
    sender = notifier(container)
    if sender is not None:
        jobs.append(
            PeriodicJob(
                "notifier", settings.notifier_seconds, lambda: sender.drain(container.clock.now())
            )
        )
    lapor = lapor_connector(container)
    if lapor is not None:
        jobs += [
            PeriodicJob("lapor-import", settings.lapor_poll_seconds, lapor.poll),
            PeriodicJob("lapor-send", settings.lapor_send_seconds, lapor.send),
        ]
    email = email_connector(container)
    if email is not None and email.intake is not None:
        jobs.append(PeriodicJob("email-intake", settings.email_poll_seconds, email.poll))
    if email is not None and email.sender is not None:
        jobs.append(PeriodicJob("email-send", settings.email_send_seconds, email.send))
    store = container.inbound_store
    if container.inbound is not None and store is not None:
        retention = timedelta(seconds=settings.inbound_retention_seconds)
        jobs.append(
            PeriodicJob(
                "inbound-prune",
                settings.inbound_prune_seconds,
                lambda: store.prune(container.clock.now() - retention),
            )
        )
    return jobs


def email_connector(container: Container) -> EmailConnector | None:
    """The email intake and acknowledgement sender (docs/email.md); None while no IMAP host,
    no .eml folder and no SMTP host is set."""
    settings = container.settings
    store, state = container.email, container.lapor
    source = _mail_source(settings)
    if store is None or state is None or (source is None and not settings.email_smtp_host):
        return None
    if settings.email_intake_unit not in container.complaints.units:
        raise ValueError(f"ADUAN_EMAIL_INTAKE_UNIT {settings.email_intake_unit!r} is no unit")
    intake = (
        EmailIntake(
            container.complaints,
            source,
            store,
            state,  # the connectors' shared poll state (row "email")
            intake_unit=settings.email_intake_unit,
            domain=settings.email_domain,
        )
        if source is not None
        else None
    )
    sender = None
    if settings.email_smtp_host:
        password = settings.email_smtp_password
        mailer = SmtpMailer(
            settings.email_smtp_host,
            settings.email_smtp_port or (465 if settings.email_smtp_ssl else 587),
            settings.email_from or f"pengaduan@{settings.email_domain}",
            user=settings.email_smtp_user,
            password=password.get_secret_value() if password else None,
            use_ssl=settings.email_smtp_ssl,
            starttls=settings.email_smtp_starttls,
            timeout_seconds=settings.email_timeout_seconds,
        )
        sender = EmailAckSender(
            container.complaints,
            mailer,
            store,
            domain=settings.email_domain,
            first_retry=timedelta(seconds=settings.email_first_retry_seconds),
            longest_wait=timedelta(seconds=settings.email_longest_wait_seconds),
        )
    return EmailConnector(container.complaints, container.metrics, intake=intake, sender=sender)


def _mail_source(settings: Settings) -> ImapMailSource | FolderMailSource | None:
    """The mailbox: IMAP when a host is set, else the .eml folder, else none."""
    if settings.email_imap_host:
        password = settings.email_imap_password
        return ImapMailSource(
            settings.email_imap_host,
            settings.email_imap_port or (993 if settings.email_imap_ssl else 143),
            settings.email_imap_user or "",
            password.get_secret_value() if password else "",
            use_ssl=settings.email_imap_ssl,
            folder=settings.email_imap_folder,
            timeout_seconds=settings.email_timeout_seconds,
        )
    if settings.email_folder is not None:
        return FolderMailSource(settings.email_folder)
    return None


def lapor_connector(container: Container) -> LaporConnector | None:
    """The SP4N-LAPOR! connector (docs/lapor.md); None while ADUAN_LAPOR_URL is unset."""
    settings = container.settings
    if not settings.lapor_url or container.lapor is None:
        return None
    token = settings.lapor_token.get_secret_value() if settings.lapor_token else ""
    return LaporConnector(
        container.complaints,
        HttpLaporGateway(settings.lapor_url, token, timeout_seconds=settings.lapor_timeout_seconds),
        container.lapor,
        container.lapor,
        container.metrics,
        intake_unit=settings.lapor_intake_unit,
        activity_log=container.lapor,
        first_retry=timedelta(seconds=settings.lapor_first_retry_seconds),
        longest_wait=timedelta(seconds=settings.lapor_longest_wait_seconds),
    )


def sla_timer(container: Container) -> SlaTimer:
    """The timer that raises SLA alerts from the live SLA view (also ``aduan tick``)."""
    assert container.alerts is not None
    return SlaTimer(
        lambda: container.catalog.live("sla"),
        container.alerts,
        on_raised=lambda alert: container.metrics.alert_raised(alert.state),
    )


def silence_archiver(container: Container) -> SilenceArchiver:
    """The timer that archives cases silent past the policy's limit (also ``aduan tick``); it
    takes its candidates from the live SLA view (their paused stages)."""
    return SilenceArchiver(
        container.complaints, lambda: container.catalog.live("sla").waiting_case_ids()
    )


def archive_tick(container: Container, now: datetime) -> list[UUID]:
    """``aduan tick``, after ``sla_tick`` caught the SLA view up: archive the silent cases."""
    return silence_archiver(container).tick(now)


def sla_tick(container: Container, now: datetime, wait_seconds: float = 60.0) -> list[Alert]:
    """``aduan tick``: bring the SLA read model to the head, then scan once at ``now``."""
    locks = container.locks()
    try:
        if locks.try_acquire("projection:sla"):
            view = container.catalog.target("sla")
            runner = Runner(
                container.event_log(),
                [Binding(container.projections["sla"], view)],
                batch_size=container.settings.projection_batch_size,
            )
            for _ in range(5):
                try:
                    run_to_head(runner, wait_seconds)
                    break
                except StalePosition:  # a worker of another process took the same batch
                    continue
            if not container.catalog.is_live(view):
                container.catalog.promote(view)
        else:
            # A worker elsewhere holds the SLA read model: let it reach the head.
            head = container.event_log().head()
            if not wait_for(CatalogReadSide(container.catalog), "sla", head, wait_seconds):
                raise TimeoutError("the SLA read model did not reach the head of the log")
        return sla_timer(container).tick(now)
    finally:
        locks.release_all()


def notifier(container: Container) -> Notifier | None:
    """The webhook notifier of the alert outbox; None when no webhook is configured."""
    url = container.settings.alert_webhook_url
    if not url or container.alerts is None:
        return None
    return Notifier(
        container.alerts,
        UrllibTransport(container.settings.alert_webhook_timeout_seconds),
        url,
        on_delivered=lambda _: container.metrics.alert_delivered(),
    )


def operator() -> Principal:
    """Whoever runs the CLI on the server: agency-wide, read-only use."""
    return Principal("cli", frozenset({Role.AUDITOR, Role.UNIT_HEAD}), frozenset({"*"}))


def privacy_operator() -> Principal:
    """Whoever runs ``aduan privacy erase`` on the server: an admin."""
    return Principal("cli", frozenset({Role.ADMIN}), frozenset({"*"}))


def personal_data(read_db: ReadDatabase, master_secret: str, clock: Clock) -> PersonalData:
    """Data keys in the read database, wrapped under a key derived from the master secret."""
    envelope = AesGcmEnvelope.from_master_secret(master_secret)
    return PersonalData(SqlKeyStore(read_db), envelope, clock)


def rewrap_keys(container: Container, old_key_env: str) -> int:
    """Re-wrap every live data key from the old master secret (in ``old_key_env``) to the
    current one; keys already under the current one are left as they are."""
    old_secret = os.environ.get(old_key_env)
    if not old_secret:
        raise ValueError(f"{old_key_env} is not set: it must hold the old master key")
    return container.complaints.personal_data.rewrap(AesGcmEnvelope.from_master_secret(old_secret))


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
    tokens = _tokens(settings, jwt_secret)
    # The development token is printed only when it is accepted: in HS256 mode.
    generated = generated and isinstance(tokens, SharedSecretTokens)
    root_secret = (
        settings.master_key.get_secret_value() if settings.master_key is not None else jwt_secret
    )
    fingerprint_key = hmac.new(
        root_secret.encode(), b"aduan:idempotency-fingerprint", hashlib.sha256
    ).digest()
    env = event_store_env(settings) | dict(env_overrides or {})
    clock = clock or SystemClock()
    units = shipped_units()
    # Shipped policies and holidays, plus the admin's stored closures and policies (loaded below,
    # once the store is open, and refreshed whenever another process may have changed them).
    live = LiveConfiguration(HolidayCalendars(), PolicyBook.shipped())
    policies = calendars = live
    read_db = _read_database(settings, env.get("POSTGRES_SCHEMA"))
    with _setup_lock(read_db):
        complaints = Complaints(
            env,
            clock=clock,
            randomness=SystemRandomness(),
            units=units,
            policies=policies,
            calendars=calendars,
            positions=positions_for,
            personal_data=personal_data(read_db, root_secret, clock),
            access_log=SqlAccessLog(read_db),
        )
    admin = Administration(
        complaints, clock=clock, units=units, calendars=live.calendars, policies=live.policies
    )
    live.refresher, live.loader = admin.refresh_if_stale, admin.load
    admin.load()
    # Read models rebuilt into a new generation whenever their projection changes.
    rebuildable: dict[str, tuple[Projection[Any], type[SqlView]]] = {
        "queues": (QueueProjection(policies.get, calendars.calendar, units.zone_of), SqlQueueView),
        "monev": (MonevProjection(policies.get, calendars.calendar, units.zone_of), SqlMonevView),
        "sla": (SlaProjection(policies.get, calendars.calendar, units.zone_of), SqlSlaView),
        "duplicates": (
            DuplicateProjection(complaints.personal_data.open_texts),
            SqlDuplicateView,
        ),
        "surveys": (
            SurveyProjection(policies.get, calendars.calendar, units.zone_of),
            SqlSurveyView,
        ),
    }
    # Append-only read models: one permanent table set, verified and never rebuilt.
    lapor = SqlLaporStore(read_db)
    email = SqlEmailStore(read_db)
    append_only: dict[str, tuple[Projection[Any], Any]] = {
        "audit": (AuditProjection(), SqlAuditView(read_db)),
        "lapor-outbox": (LaporOutboxProjection(), lapor),
    }
    append_only["email-outbox"] = (EmailOutboxProjection(), email)
    catalog = Catalog(
        read_db,
        {name: (p.version, view) for name, (p, view) in rebuildable.items()},
        fixed={name: view for name, (_, view) in append_only.items()},
    )
    projections = {name: p for name, (p, _) in (rebuildable | append_only).items()}
    if isinstance(read_db, PostgresReadDatabase):
        ping_when_idle(complaints.recorder.datastore.pool)  # type: ignore[attr-defined]
        ping_when_idle(read_db.pool)
    metrics = Metrics()
    committer = _committer(settings, complaints, read_db, metrics)
    breaker = _breaker(settings, complaints, read_db)
    metrics.watch(committer, breaker)
    public = _public_desk(settings, complaints, units)
    inbound_store = SqlInboundStore(read_db)
    return Container(
        settings,
        complaints,
        tokens,
        fingerprint_key,
        generated,
        clock,
        read_db,
        catalog,
        projections,
        metrics,
        Ticker(),
        _queue_feed(settings),
        audit_signer=CheckpointSigner(_audit_signing_seed(settings, root_secret)),
        alerts=SqlAlertStore(read_db),
        admin=admin,
        rate_limiter=_rate_limiter(settings),
        committer=committer,
        breaker=breaker,
        lapor=lapor,
        public=public,
        email=email,
        inbound_store=inbound_store,
        inbound=_inbound(settings, complaints, public, inbound_store, metrics),
    )


def _open311(
    settings: Settings, catalog: Catalog, read_db: ReadDatabase, metrics: Metrics
) -> Open311 | None:
    """The Open311 facade over the live queue and SLA read models; None when turned off.
    Its requests are counted in the metrics and the connector tally (connectors status)."""
    if not settings.open311:
        return None
    raw = settings.open311_api_keys.get_secret_value() if settings.open311_api_keys else ""
    keys = tuple(key.strip() for key in raw.split(",") if key.strip())
    return Open311(
        SqlOpen311Listing(CatalogReadSide(catalog)),
        api_keys=keys,
        tally=SqlConnectorTally(read_db),
        metrics=metrics,
    )


def connector_tally(container: Container) -> SqlConnectorTally:
    """Inbound connectors' requests by outcome (Open311), as ``connectors status`` reads them."""
    return SqlConnectorTally(container.read_db)


def inbound_secrets(settings: Settings) -> dict[Channel, bytes]:
    """ADUAN_INBOUND_SECRETS: a JSON object of gateway channel to its shared secret."""
    if settings.inbound_secrets is None:
        return {}
    problem = "ADUAN_INBOUND_SECRETS must be a JSON object of channel to secret"
    try:
        raw = json.loads(settings.inbound_secrets.get_secret_value() or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(problem) from error
    if not isinstance(raw, dict) or not all(
        isinstance(v, str) and len(v) >= 16 for v in raw.values()
    ):
        raise ValueError(f"{problem} (each secret at least 16 characters)")
    try:
        return {Channel(name): secret.encode() for name, secret in raw.items()}
    except ValueError as error:
        raise ValueError(f"{problem}: {error}") from error


def _inbound(
    settings: Settings,
    complaints: Complaints,
    public: PublicDesk,
    store: SqlInboundStore,
    metrics: Metrics,
) -> InboundMessages | None:
    """The messaging gateways' intake (docs/inbound.md); None while no channel has a secret."""
    secrets_by_channel = inbound_secrets(settings)
    if not secrets_by_channel:
        return None
    if settings.inbound_retention_seconds < settings.inbound_window_seconds:
        raise ValueError("ADUAN_INBOUND_RETENTION_SECONDS must cover the signature window")
    if settings.inbound_intake_unit not in complaints.units:
        raise ValueError(f"ADUAN_INBOUND_INTAKE_UNIT {settings.inbound_intake_unit!r} is no unit")
    return InboundMessages(
        complaints,
        public,
        store,
        secrets=secrets_by_channel,
        intake_unit=settings.inbound_intake_unit,
        window_seconds=settings.inbound_window_seconds,
        metrics=metrics,
    )


def _public_desk(settings: Settings, complaints: Complaints, units: UnitDirectory) -> PublicDesk:
    """The public side; wrong PINs counted in Redis when configured (per process meanwhile)."""
    if settings.public_intake_unit not in units:
        raise ValueError(f"ADUAN_PUBLIC_INTAKE_UNIT {settings.public_intake_unit!r} is no unit")
    window = settings.pin_failure_window_seconds

    def attempts(limit: int) -> LocalAttempts | RedisAttempts:
        local = LocalAttempts(max(1, limit), window)
        if settings.redis_url is None:
            return local
        client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        return RedisAttempts(client, settings.redis_prefix, local)

    return PublicDesk(
        complaints,
        intake_unit=settings.public_intake_unit,
        number_attempts=attempts(settings.pin_max_failures),
        client_attempts=attempts(settings.pin_client_max_failures),
    )


def _breaker(
    settings: Settings, complaints: Complaints, read_db: ReadDatabase
) -> CircuitBreaker | None:
    """One breaker for the PostgreSQL server, in front of the event store's pool and the read
    store's; None on SQLite (embedded: nothing to reach) or with ADUAN_DB_BREAKER_FAILURES=0."""
    if settings.db_breaker_failures <= 0 or not isinstance(read_db, PostgresReadDatabase):
        return None
    breaker = CircuitBreaker(
        failures=settings.db_breaker_failures, open_seconds=settings.db_breaker_open_seconds
    )
    guard_pool(complaints.recorder.datastore.pool, breaker)  # type: ignore[attr-defined]
    guard_pool(read_db.pool, breaker)
    return breaker


def _committer(
    settings: Settings, complaints: Complaints, read_db: ReadDatabase, metrics: Metrics
) -> GroupCommitter | None:
    """Group commit for creates on PostgreSQL; SQLite keeps one save per request.

    The writer thread starts with the first create: CLI commands never start one."""
    if not settings.group_commit or not isinstance(read_db, PostgresReadDatabase):
        return None
    # The event store's recorder (KeyedPostgresApplicationRecorder) stores a batch's data keys
    # in its events' transaction.
    return GroupCommitter(
        complaints.save,
        keys_with_events=True,
        queue_size=settings.group_commit_queue_size,
        max_batch=settings.group_commit_max_batch,
        queued_seconds=settings.group_commit_queued_seconds,
        observer=metrics,
    )


def _tokens(settings: Settings, jwt_secret: str) -> SharedSecretTokens | JwksTokens:
    """OIDC (JWKS) when ADUAN_OIDC_JWKS_URL is set, and then only that: HS256 is refused even
    if ADUAN_JWT_SECRET is set too; otherwise HS256 with the shared (or development) secret."""
    if settings.oidc_jwks_url:
        return JwksTokens(
            settings.oidc_jwks_url,
            settings.jwt_issuer,
            settings.jwt_audience,
            leeway_seconds=settings.jwt_leeway_seconds,
            roles_claim=settings.jwt_roles_claim,
            units_claim=settings.jwt_units_claim,
            cache_seconds=settings.oidc_jwks_cache_seconds,
            refetch_seconds=settings.oidc_jwks_refetch_seconds,
        )
    return SharedSecretTokens(
        jwt_secret,
        settings.jwt_issuer,
        settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        roles_claim=settings.jwt_roles_claim,
        units_claim=settings.jwt_units_claim,
    )


def _rate_limiter(settings: Settings) -> LocalRateLimiter | RedisRateLimiter | None:
    """Shared token buckets in Redis when configured (per process while it is down), else per
    process; None when ADUAN_RATE_LIMIT_PER_MINUTE is 0."""
    if settings.rate_limit_per_minute <= 0:
        return None
    local = LocalRateLimiter(settings.rate_limit_per_minute, max(1, settings.rate_limit_burst))
    if settings.redis_url is None:
        return local
    # Short timeouts: the limiter sits in front of every create and must never hold one up long.
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
    )
    return RedisRateLimiter(client, settings.redis_prefix, local)


def _origins(value: str | None) -> tuple[str, ...]:
    """ADUAN_CORS_ORIGINS: comma-separated origins; unset or empty: CORS off."""
    return tuple(o.strip().rstrip("/") for o in (value or "").split(",") if o.strip())


def _audit_signing_seed(settings: Settings, root_secret: str) -> bytes:
    """ADUAN_AUDIT_SIGNING_KEY (hex or base64 of 32 bytes), else derived from the root secret."""
    if settings.audit_signing_key is None:
        return hmac.new(root_secret.encode(), b"aduan:audit-signing-key", hashlib.sha256).digest()
    raw = settings.audit_signing_key.get_secret_value().strip()
    try:
        seed = bytes.fromhex(raw) if len(raw) == 64 else base64.b64decode(raw, validate=True)
    except ValueError as error:
        raise ValueError("ADUAN_AUDIT_SIGNING_KEY must be hex or base64 of 32 bytes") from error
    if len(seed) != 32:
        raise ValueError("ADUAN_AUDIT_SIGNING_KEY must be hex or base64 of 32 bytes")
    return seed


def _queue_feed(settings: Settings) -> QueueFeed:
    if settings.redis_url is None:
        return LocalFeed()
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )
    return RedisFeed(client, settings.redis_prefix)


@contextmanager
def _setup_lock(read_db: ReadDatabase) -> Iterator[None]:
    """Processes that start at once create tables, functions and triggers one at a time: two
    concurrent CREATE OR REPLACE FUNCTION fail with "tuple concurrently updated"."""
    if not isinstance(read_db, PostgresReadDatabase):
        yield
        return
    scope = f"aduan:{read_db.schema or 'public'}:schema-setup"
    key = int.from_bytes(hashlib.sha256(scope.encode()).digest()[:8], "big", signed=True)
    with read_db.connect(autocommit=True) as conn:  # closing it releases the lock
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        yield


def _read_database(settings: Settings, schema: str | None) -> ReadDatabase:
    path = read_database_path(settings)
    if path is not None:
        return SQLiteReadDatabase(path)
    url = settings.database_url.replace("postgres://", "postgresql://", 1)
    return PostgresReadDatabase(
        url,
        schema=schema,
        max_size=max(2, settings.postgres_pool_size),
        connect_timeout=settings.postgres_connect_timeout,
    )
