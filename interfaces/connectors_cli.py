"""``aduan connectors status``: each connector to a neighbouring system and how it is doing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from interfaces.bootstrap import Container, bootstrap, inbound_secrets

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
        "last_error": poll.last_error if poll_failing else counts.last_error,
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
        table.add_column(column)
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
