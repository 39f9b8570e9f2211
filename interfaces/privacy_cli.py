"""``aduan privacy``: erase a reporter's personal data; re-wrap data keys after a key rotation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from application.errors import NotFound
from domain.errors import ComplaintError
from interfaces.bootstrap import bootstrap, operator, privacy_operator, rewrap_keys

privacy_cli = typer.Typer(
    help="Personal data: erasure (UU 27/2022), key rotation", no_args_is_help=True
)
console = Console(stderr=True)


@privacy_cli.command("erase")
def erase(
    reference: Annotated[str, typer.Argument(help="Case id (UUID) or tracking number")],
    reason: Annotated[
        str, typer.Option(help="Why (e.g. the request's reference); no personal data")
    ],
) -> None:
    """Destroy the case's data key and record ReporterErased: the reporter is gone for good."""
    container = bootstrap()
    who = privacy_operator()
    app = container.complaints
    try:
        try:
            case_id = UUID(reference)
        except ValueError:
            case_id = app.case_id_for_tracking_number(operator(), reference)
        if case_id not in app.repository:
            raise NotFound(f"no case {case_id}")
        # The operator acts on the case as it stands now: its current version is the If-Match.
        version: int = app.repository.get(case_id).version
        result = app.erase_reporter(who, case_id, version, reason=reason)
    except (NotFound, ComplaintError) as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from error
    finally:
        container.close()
    console.print(f"reporter of {result.id} erased (version {result.version})")


@privacy_cli.command("rewrap")
def rewrap(
    old_key_env: Annotated[
        str, typer.Option(help="Name of the environment variable holding the OLD master key")
    ],
) -> None:
    """After changing ADUAN_MASTER_KEY: re-wrap every data key from the old master key."""
    container = bootstrap()
    try:
        count = rewrap_keys(container, old_key_env)
    except ValueError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from error
    finally:
        container.close()
    console.print(f"{count} data key(s) now wrapped by the current master key")
