"""``aduan connectors status``: each connector to a neighbouring system and how it is doing."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from interfaces.bootstrap import bootstrap, connector_statuses

connectors_cli = typer.Typer(
    help="Connectors to neighbouring systems (SP4N-LAPOR!)", no_args_is_help=True
)
console = Console()


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
