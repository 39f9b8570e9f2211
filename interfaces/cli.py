"""The ``aduan`` command line: serve, token, case show."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from application.errors import NotFound
from interfaces.bootstrap import bootstrap, operator

cli = typer.Typer(
    help="aduan: event-sourced public-service complaint handling", no_args_is_help=True
)
case_cli = typer.Typer(help="Read cases", no_args_is_help=True)
cli.add_typer(case_cli, name="case")
projections_cli = typer.Typer(help="Read models: status and rebuilds", no_args_is_help=True)
cli.add_typer(projections_cli, name="projections")
console = Console()


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    api_only: Annotated[bool, typer.Option("--api-only", help="No background work")] = False,
) -> None:
    """Run the API (and, unless --api-only, the background work) in this process."""
    import uvicorn

    container = bootstrap()
    app = container.http_app()
    store = container.settings.database_url
    console.print(f"[bold]aduan[/] on http://{host}:{port}  (docs: /docs)  store: {store}")
    if container.generated_dev_secret:
        console.print("Development token (all units; intake, technical, unit head):")
        print(container.development_token(), flush=True)
    if not api_only:
        container.start_background()
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        container.close()


@cli.command()
def work(
    only: Annotated[
        list[str] | None, typer.Option(help="Run only this background job; repeat for several")
    ] = None,
) -> None:
    """Run the background work alone (read models, timers), until interrupted."""
    import signal
    import threading

    container = bootstrap()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        container.start_background(only)
    except ValueError as error:
        container.close()
        raise typer.BadParameter(str(error)) from error
    console.print(f"aduan work: {', '.join(only or container.projections)} (Ctrl-C to stop)")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        container.close()


@projections_cli.command("status")
def projections_status() -> None:
    """Each read model's builds: position, lag behind the log, live or building."""
    container = bootstrap()
    try:
        head = container.event_log().head()
        table = Table(title=f"Read models (log head {head})")
        for column in (
            "read model",
            "generation",
            "version",
            "position",
            "lag",
            "state",
            "updated",
        ):
            table.add_column(column)
        for name in container.projections:
            container.catalog.target(name)
            for build in container.catalog.builds(name):
                table.add_row(
                    build.name,
                    str(build.generation),
                    str(build.version),
                    str(build.position),
                    str(max(head - build.position, 0)),
                    "live" if build.live else "building",
                    build.updated_at.isoformat(timespec="seconds") if build.updated_at else "",
                )
        console.print(table)
    finally:
        container.close()


@projections_cli.command("rebuild")
def projections_rebuild(
    name: Annotated[str | None, typer.Argument(help="One read model (default: all)")] = None,
) -> None:
    """Build read models afresh beside the live ones, then switch over (no downtime)."""
    from rich.progress import Progress

    from interfaces.rebuild import rebuild

    container = bootstrap()
    try:
        names = [name] if name else list(container.projections)
        unknown = [n for n in names if n not in container.projections]
        if unknown:
            raise typer.BadParameter(
                f"unknown read model {unknown}; known: {sorted(container.projections)}"
            )
        with Progress(console=console) as progress:
            for chosen in names:
                head = container.event_log().head()
                task = progress.add_task(f"rebuilding {chosen}", total=max(head, 1))
                stats = rebuild(
                    container, chosen, lambda p, t=task: progress.update(t, completed=p)
                )
                progress.update(task, completed=max(head, 1))
                console.print(
                    f"{chosen}: {stats.events} events in {stats.seconds:.1f} s "
                    f"({stats.rate:,.0f} events/s), generation {stats.generation} is live"
                )
    finally:
        container.close()


@cli.command()
def token(
    sub: Annotated[str, typer.Option(help="The subject (officer id)")],
    role: Annotated[list[str], typer.Option(help="A role; repeat for several")],
    unit: Annotated[list[str], typer.Option(help="A unit code, or '*'; repeat for several")],
    ttl_hours: Annotated[float, typer.Option(help="Lifetime in hours")] = 12.0,
) -> None:
    """Print a bearer token signed with ADUAN_JWT_SECRET (or the development secret)."""
    from application.access import Role

    known = {r.value for r in Role}
    unknown = [r for r in role if r not in known]
    if unknown:
        raise typer.BadParameter(f"unknown role(s) {unknown}; known: {sorted(known)}")
    container = bootstrap()
    try:
        print(container.tokens.issue(sub, role, unit, ttl=timedelta(hours=ttl_hours)))
    finally:
        container.close()


@case_cli.command("show")
def case_show(
    reference: Annotated[str, typer.Argument(help="Case id (UUID) or tracking number")],
    as_of: Annotated[
        datetime | None, typer.Option(help="Show the case as recorded up to this time")
    ] = None,
    as_of_version: Annotated[int | None, typer.Option(help="Show the case up to a version")] = None,
) -> None:
    """Print a case's history as a table, and its state at the end."""
    container = bootstrap()
    who = operator()
    app = container.complaints
    try:
        try:
            case_id = UUID(reference)
        except ValueError:
            case_id = app.case_id_for_tracking_number(who, reference)
        snapshot = app.case(who, case_id, as_of_version=as_of_version, as_of=as_of)
        history = [e for e in app.history(who, case_id) if e.version <= snapshot.case.version]
    except NotFound as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from error
    finally:
        container.close()
    case = snapshot.case
    table = Table(title=f"Case {case.tracking_number} ({case.id})")
    for column in ("v", "recorded at", "event", "actor", "unit", "details"):
        table.add_column(column)
    for entry in history:
        details = ", ".join(
            f"{k}={v}" for k, v in entry.data.items() if k not in ("reporter", "description")
        )
        table.add_row(
            str(entry.version),
            entry.occurred_at.isoformat(timespec="seconds"),
            entry.type,
            entry.actor.sub,
            entry.actor.unit or "",
            details[:120],
        )
    console.print(table)
    console.print(
        f"status [bold]{case.status.value}[/] at version {case.version}; "
        f"handling unit {case.handling_unit}"
    )
    for stage in snapshot.stages:
        console.print(
            f"  {stage.stage.value:16} due {stage.due_at.isoformat()}  {stage.state.value}"
        )


def main() -> None:
    cli()
