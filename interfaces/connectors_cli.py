"""``aduan connectors status``: each connector to a neighbouring system and how it is doing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from interfaces.bootstrap import Container, bootstrap, connector_tally, inbound_secrets

connectors_cli = typer.Typer(
    help="Connectors to neighbouring systems (SP4N-LAPOR!, Open311, email, messaging)",
    no_args_is_help=True,
)
console = Console()


def connector_statuses(container: Container) -> list[dict[str, Any]]:
    """Each connector's configuration, last success, outbox and last error, one dict each with
    the keys of ``lapor_status`` (what does not apply to a connector is 0 or None)."""
    return [source(container) for source in STATUS_SOURCES]


def lapor_status(container: Container) -> dict[str, Any]:
    """SP4N-LAPOR!: polls of assigned reports and the outbox of status updates."""
    store = container.lapor
    assert store is not None
    poll = store.poll_state("lapor")
    counts = store.counts()
    head = container.event_log().head()
    # The latest problem: a poll that failed after the last good one, else a message's.
    poll_failing = poll.last_error_at is not None and (
        poll.last_success_at is None or poll.last_error_at >= poll.last_success_at
    )
    error = poll.last_error if poll_failing else counts.last_error
    activity = store.poll_state("lapor-activity")  # the reporters' comments and withdrawals
    if (
        not poll_failing
        and activity.last_error_at is not None
        and (activity.last_success_at is None or activity.last_error_at >= activity.last_success_at)
    ):
        error = activity.last_error
    return {
        "connector": "lapor",
        "configured": bool(container.settings.lapor_url),
        "url": container.settings.lapor_url,
        "last_success_at": poll.last_success_at,
        "last_poll_at": poll.last_poll_at,
        "cursor": poll.cursor,
        "pending": counts.pending,
        "retrying": counts.retrying,
        "failed": counts.retrying + counts.rejected,
        "rejected": counts.rejected,
        "delivered": counts.delivered,
        "outbox_lag": max(head - store.position(), 0),
        "last_error": error,
    }


def open311_status(container: Container) -> dict[str, Any]:
    """Open311 GeoReport v2 facade: the requests filed through it (``delivered``, the last one
    ``last_success_at``), those refused (``rejected``: bad input, api_key, unknown service...;
    rate-limited ones are in the metrics only) and those that failed on our side (``failed``)."""
    tally = connector_tally(container).counts("open311")
    filed, errors = tally.get("filed"), tally.get("error")
    refused = [t for outcome, t in tally.items() if outcome not in ("filed", "replayed", "error")]
    failing = errors is not None and (filed is None or errors.last_at >= filed.last_at)
    return {
        "connector": "open311",
        "configured": bool(container.settings.open311),
        "url": "/open311/v2",
        "last_success_at": filed.last_at if filed else None,
        "last_poll_at": max((t.last_at for t in tally.values()), default=None),
        "cursor": None,
        "pending": 0,
        "retrying": 0,
        "failed": errors.count if errors else 0,
        "rejected": sum(t.count for t in refused),
        "delivered": filed.count if filed else 0,
        "outbox_lag": 0,
        "last_error": f"request failed: {errors.detail}" if failing and errors else None,
    }


def inbound_status(container: Container) -> dict[str, Any]:
    """Messaging gateways (POST /v1/inbound/{channel}): messages taken in, replayed, refused.

    ``delivered`` counts messages taken in (filed or appended), ``rejected`` deliveries refused;
    ``channels`` has each channel's own counts, last accepted message and last error."""
    enabled = sorted(channel.value for channel in inbound_secrets(container.settings))
    store = container.inbound_store
    counts = store.counts() if store is not None else []
    channels: dict[str, dict[str, Any]] = {
        c.channel: {
            "configured": c.channel in enabled,
            "last_accepted_at": c.last_accepted_at,
            "filed": c.filed,
            "appended": c.appended,
            "replayed": c.replayed,
            "rejected": c.rejected,
            "last_error": c.last_error,
            "last_error_at": c.last_error_at,
        }
        for c in counts
    }
    for name in enabled:
        channels.setdefault(
            name,
            {"configured": True, "last_accepted_at": None, "filed": 0, "appended": 0}
            | {"replayed": 0, "rejected": 0, "last_error": None, "last_error_at": None},
        )
    accepted = [c.last_accepted_at for c in counts if c.last_accepted_at is not None]
    failing = [c for c in counts if c.last_error_at is not None]
    failing.sort(key=lambda c: c.last_error_at or datetime.min)
    latest_error = failing[-1] if failing else None
    return {
        "connector": "inbound",
        "configured": bool(enabled),
        "url": f"/v1/inbound/{{{','.join(enabled)}}}" if enabled else None,
        "last_success_at": max(accepted) if accepted else None,
        "last_poll_at": None,
        "cursor": None,
        "pending": 0,
        "retrying": 0,
        "failed": sum(c.rejected for c in counts),
        "rejected": sum(c.rejected for c in counts),
        "delivered": sum(c.filed + c.appended for c in counts),
        "outbox_lag": 0,
        "last_error": f"{latest_error.channel}: {latest_error.last_error}"
        if latest_error
        else None,
        "replayed": sum(c.replayed for c in counts),
        "channels": dict(sorted(channels.items())),
    }


# One function per connector, each giving its row of ``aduan connectors status``.
STATUS_SOURCES: list[Callable[[Container], dict[str, Any]]] = [lapor_status]
STATUS_SOURCES.append(open311_status)
STATUS_SOURCES.append(inbound_status)


@connectors_cli.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per connector")] = False,
) -> None:
    """Configured or not, last successful poll, outbox pending/failed/delivered, last error."""
    container = bootstrap()
    try:
        statuses = connector_statuses(container)
    finally:
        container.close()
    if as_json:
        for entry in statuses:
            print(json.dumps(entry, default=_iso))
        return
    table = Table(title="Connectors")
    columns = (
        "connector",
        "configured",
        "last successful poll",
        "pending",
        "retrying",
        "rejected",
        "delivered",
        "outbox lag",
        "last error",
    )
    for column in columns:
        # The connector's name whole: an 80-column terminal cut "open311" to "open3…".
        table.add_column(column, no_wrap=column == "connector")
    for entry in statuses:
        table.add_row(
            entry["connector"],
            "yes" if entry["configured"] else "no",
            _iso(entry["last_success_at"]) or "never",
            str(entry["pending"]),
            str(entry["retrying"]),
            str(entry["rejected"]),
            str(entry["delivered"]),
            str(entry["outbox_lag"]),
            entry["last_error"] or "",
        )
    console.print(table)


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value  # type: ignore[no-any-return]


def email_status(container: Container) -> dict[str, Any]:
    """Email: polls of the mailbox (messages filed as cases or replies; ``rejected`` counts
    messages that could not be filed) and the outbox of acknowledgement emails."""
    state, store = container.lapor, container.email
    assert state is not None and store is not None
    settings = container.settings
    poll = state.poll_state("email")
    counts = store.counts()
    outbox = store.outbox_counts()
    poll_failing = poll.last_error_at is not None and (
        poll.last_success_at is None or poll.last_error_at >= poll.last_success_at
    )
    if settings.email_imap_host:
        url: str | None = f"imap://{settings.email_imap_host}/{settings.email_imap_folder}"
    elif settings.email_folder is not None:
        url = str(settings.email_folder)
    else:
        url = f"smtp://{settings.email_smtp_host}" if settings.email_smtp_host else None
    head = container.event_log().head()
    return {
        "connector": "email",
        "configured": url is not None,
        "url": url,
        "last_success_at": poll.last_success_at,
        "last_poll_at": poll.last_poll_at,
        "cursor": poll.cursor,
        "pending": outbox.pending,
        "retrying": outbox.retrying,
        "failed": outbox.retrying + outbox.rejected + counts.rejected,
        "rejected": outbox.rejected + counts.rejected,
        # Messages taken in (new cases and replies) and acknowledgements sent.
        "delivered": counts.filed + counts.replies + outbox.delivered,
        "outbox_lag": max(head - store.position(), 0),
        "last_error": poll.last_error
        if poll_failing
        else outbox.last_error or store.last_rejection(),
    }


STATUS_SOURCES.append(email_status)
