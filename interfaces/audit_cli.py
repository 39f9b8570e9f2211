"""``aduan audit``: export the trail, verify it (from the database or an export), sign its head."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console

from interfaces.bootstrap import Container, bootstrap
from projections.audit.verify import Verification, verify_trail
from projections.audit.view import AuditEntry, AuditView, Checkpoint, all_entries
from projections.runner import Binding, Runner

audit_cli = typer.Typer(help="The tamper-evident audit trail", no_args_is_help=True)
console = Console(stderr=True)


class MalformedExport(ValueError):
    pass


def catch_up_trail(container: Container) -> AuditView:
    """The trail, first brought to the head of the log unless a worker elsewhere holds it."""
    view: AuditView = container.catalog.target("audit")
    locks = container.locks()
    try:
        if locks.try_acquire("projection:audit"):
            runner = Runner(
                container.event_log(),
                [Binding(container.projections["audit"], view)],
                batch_size=container.settings.projection_batch_size,
            )
            runner.catch_up()
    finally:
        locks.release_all()
    return view


def _export_entries(stream: TextIO) -> Iterator[AuditEntry]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield AuditEntry.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError) as error:
            raise MalformedExport(f"line {number} is not an audit entry: {error}") from error


def _report(result: Verification) -> None:
    print(json.dumps(result.to_json()))
    if not result.ok:
        console.print(f"[red]NOT OK[/] at seq {result.first_bad_seq}: {result.reason}")
        raise typer.Exit(1)
    console.print(f"[green]ok[/]: {result.entries} entries, head {result.head}")


@audit_cli.command("export")
def audit_export(
    out: Annotated[Path | None, typer.Option(help="JSON Lines file (default: stdout)")] = None,
) -> None:
    """Write every entry of the trail as JSON Lines, oldest first, streaming."""
    container = bootstrap()
    try:
        view = catch_up_trail(container)
        target = out.open("w", encoding="utf-8") if out else sys.stdout
        try:
            count = 0
            for entry in all_entries(view):
                target.write(json.dumps(entry.to_json(), separators=(",", ":")) + "\n")
                count += 1
        finally:
            if out:
                target.close()
        console.print(f"exported {count} entries" + (f" to {out}" if out else ""))
    finally:
        container.close()


@audit_cli.command("verify")
def audit_verify(
    file: Annotated[
        Path | None, typer.Option("--file", help="An export (JSON Lines) to verify")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="A signed checkpoint the trail must still contain")
    ] = None,
) -> None:
    """Recompute the chain against the event store; exit 1 at the first bad entry."""
    signed = _load_checkpoint(checkpoint) if checkpoint else None
    container = bootstrap()
    assert container.audit_signer is not None
    trusted = container.audit_signer.public_key
    try:
        log = container.event_log()
        if file is None:
            entries: Any = all_entries(catch_up_trail(container))
            result = verify_trail(entries, log, checkpoint=signed, trusted_key=trusted)
        else:
            with file.open(encoding="utf-8") as stream:
                try:
                    result = verify_trail(
                        _export_entries(stream), log, checkpoint=signed, trusted_key=trusted
                    )
                except MalformedExport as error:
                    console.print(f"[red]{error}[/]")
                    raise typer.Exit(2) from error
    finally:
        container.close()
    _report(result)


@audit_cli.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path, typer.Option(help="Where to write the signed checkpoint (JSON)")],
) -> None:
    """Verify the trail, then sign its head; keep the file outside the database."""
    container = bootstrap()
    assert container.audit_signer is not None
    try:
        view = catch_up_trail(container)
        result = verify_trail(all_entries(view), container.event_log())
        if not result.ok:
            _report(result)
        head = view.entry(result.entries) if result.entries else None
        if head is None:
            console.print("[red]the trail is empty: nothing to sign[/]")
            raise typer.Exit(1)
        signed = container.audit_signer.sign(head, container.clock.now())
        view.record_checkpoint(signed)
        out.write_text(json.dumps(signed.to_json(), indent=2) + "\n", encoding="utf-8")
        console.print(f"signed seq {signed.seq} head {signed.head} into {out}")
    finally:
        container.close()


def _load_checkpoint(path: Path) -> Checkpoint:
    try:
        return Checkpoint.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise typer.BadParameter(f"{path} is not a checkpoint: {error}") from error
