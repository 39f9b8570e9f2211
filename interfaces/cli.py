"""The ``aduan`` command line: serve, token, case show."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from application.errors import NotFound
from interfaces.audit_cli import audit_cli, catch_up_trail
from interfaces.bootstrap import Container, bootstrap, operator
from interfaces.connectors_cli import connectors_cli
from interfaces.privacy_cli import privacy_cli
from projections.audit.verify import verify_view

cli = typer.Typer(
    help="aduan: event-sourced public-service complaint handling", no_args_is_help=True
)
case_cli = typer.Typer(help="Read cases", no_args_is_help=True)
cli.add_typer(case_cli, name="case")
projections_cli = typer.Typer(help="Read models: status and rebuilds", no_args_is_help=True)
cli.add_typer(projections_cli, name="projections")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(privacy_cli, name="privacy")
cli.add_typer(connectors_cli, name="connectors")
report_cli = typer.Typer(help="Reports: monev recaps, the IKM", no_args_is_help=True)
cli.add_typer(report_cli, name="report")
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
    jobs = [job.name for job in container.jobs.jobs] if container.jobs is not None else []
    running = only or [*container.projections, *jobs]
    console.print(f"aduan work: {', '.join(running)} (Ctrl-C to stop)")
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
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh", help="Start a new build even if an interrupted one could be carried on"
        ),
    ] = False,
) -> None:
    """Build read models afresh beside the live ones, then switch over (no downtime).

    A rebuild that was interrupted (the process killed) is carried on from where its last batch
    was committed, unless --fresh."""
    from rich.progress import Progress

    from interfaces.rebuild import rebuild_together

    container = bootstrap()
    try:
        names = [name] if name else list(container.projections)
        unknown = [n for n in names if n not in container.projections]
        if unknown:
            raise typer.BadParameter(
                f"unknown read model {unknown}; known: {sorted(container.projections)}"
            )
        with Progress(console=console) as progress:
            for chosen in [n for n in names if n == "audit"]:
                # Append-only: never rewritten; "rebuilding" it means verifying it.
                result = verify_view(catch_up_trail(container), container.event_log())
                console.print(f"{chosen}: verified, {result.to_json()}")
                if not result.ok:
                    raise typer.Exit(1)
            for kept in [n for n in names if n in container.catalog.fixed and n != "audit"]:
                console.print(f"{kept}: append-only (an outbox), kept as it is")
            chosen = [n for n in names if n not in container.catalog.fixed]
            if chosen:
                head = container.event_log().head()
                task = progress.add_task(f"rebuilding {', '.join(chosen)}", total=max(head, 1))
                stats = rebuild_together(
                    container,
                    chosen,
                    lambda p: progress.update(task, completed=p),
                    resume=not fresh,
                )
                progress.update(task, completed=max(head, 1))
                resumed = f", resumed at {stats.resumed_from}" if stats.resumed_from else ""
                console.print(
                    f"{', '.join(chosen)}: {stats.events} events in {stats.seconds:.1f} s "
                    f"({stats.rate:,.0f} events/s{resumed}); the new generations are live"
                )
    finally:
        container.close()


@cli.command()
def tick(
    now: Annotated[
        str | None,
        typer.Option(help="Scan as of this instant, ISO 8601 with an offset (default: now)"),
    ] = None,
) -> None:
    """Run one SLA scan: catch the SLA read model up, raise the alerts due, archive the cases
    silent past the policy's limit, print them, exit."""
    from domain.tracking_number import display
    from interfaces.bootstrap import archive_tick, sla_tick

    instant = None
    if now is not None:
        try:
            instant = datetime.fromisoformat(now)
        except ValueError as error:
            raise typer.BadParameter(f"--now {now!r} is not an ISO 8601 instant") from error
        if instant.tzinfo is None:
            raise typer.BadParameter("--now needs an offset, e.g. 2026-11-09T09:00:00+07:00")
    container = bootstrap()
    try:
        raised = sla_tick(container, instant or container.clock.now())
        archived = archive_tick(container, instant or container.clock.now())
    finally:
        container.close()
    for alert in raised:
        print(
            f"{alert.state}\t{alert.unit}\t{display(alert.tracking_number)}\t{alert.stage}\t"
            f"due {alert.due_at.isoformat()}\t{alert.id}"
        )
    console.print(f"{len(raised)} alert(s) raised")
    console.print(f"{len(archived)} case(s) archived for missing data")


@cli.command()
def token(
    sub: Annotated[str, typer.Option(help="The subject (officer id)")],
    role: Annotated[list[str], typer.Option(help="A role; repeat for several")],
    unit: Annotated[list[str], typer.Option(help="A unit code, or '*'; repeat for several")],
    ttl_hours: Annotated[float, typer.Option(help="Lifetime in hours")] = 12.0,
) -> None:
    """Print a bearer token signed with ADUAN_JWT_SECRET (or the development secret).

    HS256 development mode only: with ADUAN_OIDC_JWKS_URL set, tokens come from the identity
    provider and this command refuses."""
    from application.access import Role

    known = {r.value for r in Role}
    unknown = [r for r in role if r not in known]
    if unknown:
        raise typer.BadParameter(f"unknown role(s) {unknown}; known: {sorted(known)}")
    container = bootstrap()
    try:
        if container.settings.oidc_jwks_url:
            console.print(
                "[red]aduan token works only in HS256 development mode:[/] ADUAN_OIDC_JWKS_URL "
                "is set, so only the identity provider's tokens are accepted; get one there."
            )
            raise typer.Exit(2)
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
        snapshot = app.case(
            who, case_id, as_of_version=as_of_version, as_of=as_of, route="cli case show"
        )
        history = [
            e
            for e in app.history(who, case_id, route="cli case show")
            if e.version <= snapshot.case.version
        ]
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


REPORT_FORMATS = ("json", "csv", "xlsx", "png")


@report_cli.command("monev")
def report_monev(
    year: Annotated[int, typer.Option(min=2000, max=2100, help="The year, e.g. 2026")],
    out: Annotated[Path, typer.Option(help="Output file: .json, .csv, .xlsx or .png")],
    quarter: Annotated[
        int | None, typer.Option(min=1, max=4, help="Triwulan 1-4 (or --month)")
    ] = None,
    month: Annotated[int | None, typer.Option(min=1, max=12, help="1-12 (or --quarter)")] = None,
    unit: Annotated[str | None, typer.Option(help="One unit (default: agency-wide)")] = None,
    exclude_restricted: Annotated[
        bool,
        typer.Option("--exclude-restricted", help="Leave WBS/staff-ethics cases out, and say so"),
    ] = False,
) -> None:
    """Write the monev recap of a quarter or a month; the format comes from --out's suffix."""
    from interfaces.reports_render import render
    from projections.monev.report import monev_report
    from projections.monev.view import Period

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in REPORT_FORMATS:
        raise typer.BadParameter(f"--out must end in one of {['.' + f for f in REPORT_FORMATS]}")
    try:
        period = Period(year, quarter, month)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    container = bootstrap()
    try:
        if unit is not None and unit not in container.complaints.units:
            raise typer.BadParameter(f"no unit {unit}")
        view = _current_view(container, "monev")
        report = monev_report(
            view.facts(period, unit),
            period,
            unit=unit,
            include_restricted=not exclude_restricted,
            generated_at=container.clock.now(),
            position=view.position(),
        )
    finally:
        container.close()
    out.write_bytes(render(report, fmt))
    totals = report["totals"]
    console.print(
        f"{out}: {period.key}{' ' + unit if unit else ''}: {totals['cases']} cases "
        f"({totals['duplicates']} duplicates apart), "
        f"{report['excluded_restricted']} restricted left out"
    )


IKM_FORMATS = ("json", "csv", "xlsx")


@report_cli.command("ikm")
def report_ikm(
    year: Annotated[int, typer.Option(min=2000, max=2100, help="The survey year, e.g. 2026")],
    out: Annotated[Path, typer.Option(help="Output file: .json, .csv or .xlsx")],
    quarter: Annotated[
        int | None, typer.Option(min=1, max=4, help="Triwulan 1-4 (default: the whole year)")
    ] = None,
    unit: Annotated[str | None, typer.Option(help="One unit (default: agency-wide)")] = None,
    exclude_restricted: Annotated[
        bool,
        typer.Option("--exclude-restricted", help="Leave WBS/staff-ethics surveys out, say so"),
    ] = False,
) -> None:
    """Write the satisfaction index (IKM) of a year or quarter; the format comes from --out."""
    import calendar
    import json
    from datetime import date

    from domain.calendar import end_of_day
    from interfaces.ikm_render import ikm_csv, ikm_xlsx
    from projections.surveys.report import ikm_report
    from projections.surveys.view import SurveyQuery

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in IKM_FORMATS:
        raise typer.BadParameter(f"--out must end in one of {['.' + f for f in IKM_FORMATS]}")
    container = bootstrap()
    try:
        if unit is not None and unit not in container.complaints.units:
            raise typer.BadParameter(f"no unit {unit}")
        weights = None
        if unit is not None and container.admin is not None:
            last = 12 if quarter is None else 3 * quarter
            end = end_of_day(
                date(year, last, calendar.monthrange(year, last)[1]),
                container.complaints.units.zone_of(unit),
            )
            weights = container.admin.ikm_weights(unit, end)
        view = _current_view(container, "surveys")
        report = ikm_report(
            view.surveys(SurveyQuery(year=year, quarter=quarter, unit=unit)),
            year=year,
            quarter=quarter,
            unit=unit,
            include_restricted=not exclude_restricted,
            generated_at=container.clock.now(),
            weights=weights.weights if weights is not None else None,
            weights_version=weights.version if weights is not None else None,
            position=view.position(),
        )
    finally:
        container.close()
    if fmt == "json":
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        out.write_bytes(ikm_csv(report) if fmt == "csv" else ikm_xlsx(report))
    console.print(
        f"{out}: IKM {report['ikm'] if report['ikm'] is not None else '-'} "
        f"({report['grade'] or 'no grade'}) from {report['respondents']} respondents, "
        f"{report['excluded_restricted']} restricted left out"
    )


def _current_view(container: Container, name: str, wait_seconds: float = 30.0) -> Any:
    """The live view of ``name`` brought up to the head of the log.

    When no worker holds the read model (nothing else runs), catch it up here; otherwise wait
    for the worker that does.
    """
    from projections.runner import Binding, Runner

    locks = container.locks()
    head = container.event_log().head()
    if locks.try_acquire(f"projection:{name}"):
        try:
            view = container.catalog.target(name)
            Runner(
                container.event_log(),
                [Binding(container.projections[name], view)],
                batch_size=container.settings.projection_batch_size,
            ).catch_up()
            if not container.catalog.is_live(view):
                container.catalog.promote(view)
        finally:
            locks.release_all()
    else:
        deadline = time.monotonic() + wait_seconds
        while container.catalog.live(name).position() < head:
            if time.monotonic() > deadline:
                console.print(f"[yellow]{name} is behind the log; the report may miss events[/]")
                break
            time.sleep(0.2)
    return container.catalog.live(name)


def main() -> None:
    cli()
