"""Scale benchmark (issue 5): queue and alert queries, the SLA timer and the auditor's reads at a
million stored cases, each against a baseline measured in the same run."""

from __future__ import annotations

import argparse
import hashlib
import secrets
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == BENCH_DIR:
    sys.path[0] = str(BENCH_DIR.parent)
    sys.path.insert(1, str(BENCH_DIR))  # scale_data, scale_parts
elif str(BENCH_DIR) not in sys.path:
    sys.path.append(str(BENCH_DIR))

import scale_data  # noqa: E402
from scale_data import bp  # noqa: E402

PARTS = ("queries", "sla", "auditor")


def say(text: str = "") -> None:
    print(text, flush=True)


def generate(args: argparse.Namespace, container: Any) -> Any:
    generator = scale_data.ScaleGenerator(
        container,
        args.cases,
        open_share=args.open_share,
        templates=args.templates,
        seed=args.seed,
        say=say,
    )
    started = time.perf_counter()
    data = generator.run()
    seconds = time.perf_counter() - started
    say(
        f"1. generated {data.cases:,} cases ({data.open_cases:,} open), {data.events:,} events "
        f"(head {data.head:,}) in {seconds:.1f} s; load {bp.loadavg()}"
    )
    for name, value in data.seconds.items():
        say(f"   {name:<42} {value:7.1f} s")
    say(f"   statuses: {dict(data.statuses.most_common())}")
    say(f"   open cases by handling unit: {dict(data.units.most_common(8))} ...")
    data.generator = generator
    if args.audit:
        position, seconds = generator.build_audit()
        say(f"   audit trail to {position:,} built by the real projection in {seconds:.1f} s")
    if args.check_clones:
        started = time.perf_counter()
        found = scale_data.check_clones(container, args.keep)
        say(f"   clone check: rebuilt from the log in {time.perf_counter() - started:.1f} s")
        for table, (copied, rebuilt, differ) in found.items():
            say(f"     {table:<14} copied {copied:>9,}  rebuilt {rebuilt:>9,}  differing {differ}")
        if any(d for _, _, d in found.values()) or any(a != b for a, b, _ in found.values()):
            say("   FLAGGED: the copied read-model rows are not what the projections write")
            args.flagged = True
    return data


def benchmark(args: argparse.Namespace, workdir: Path, database: str) -> int:
    from infrastructure.settings import Settings
    from interfaces.bootstrap import bootstrap

    facts = bp.machine()
    say(f"machine: nproc {facts['nproc']}, {facts['cpu']}; {facts['postgresql']}")
    say(f"         Python {facts['python']}, {facts['packages']}; load at start {facts['load']}")
    url = f"{bp.PG_SERVER}/{database}"
    if args.reuse:
        say(f"database {database} (kept from an earlier run)")
    else:
        say(f"database {database}; {args.cases:,} cases, {args.open_share:.0%} open")
    settings = Settings(
        database_url=url,
        jwt_secret=args.jwt_secret,
        var_dir=workdir / "var",
        background=False,
        sla_timer_seconds=args.timer_seconds,
    )
    container = bootstrap(settings)
    try:
        data = generate(args, container) if not args.reuse else None
        import scale_parts

        context = scale_parts.Context(args, container, url, workdir, data, say)
        for part in args.parts:
            getattr(scale_parts, f"run_{part}")(context)
        say(f"\nload average at end {bp.loadavg()}")
        return 1 if context.failed or getattr(args, "flagged", False) else 0
    finally:
        container.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases stored")
    parser.add_argument("--open-share", type=float, default=0.1, help="share of cases open")
    parser.add_argument("--templates", type=int, default=20000, help="template cases")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"what to measure, of {', '.join(PARTS)}"
    )
    parser.add_argument("--duration", type=float, default=15, help="seconds of each HTTP run")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--timer-seconds", type=float, default=1.0, help="SLA timer period")
    parser.add_argument(
        "--audit", action="store_true", help="build the whole audit trail after generating"
    )
    parser.add_argument(
        "--verify-events",
        type=int,
        default=300_000,
        help="the auditor part builds the trail over at least this many events, then verifies",
    )
    parser.add_argument(
        "--check-clones",
        action="store_true",
        help="rebuild the read models from the log and compare with the copied rows",
    )
    parser.add_argument(
        "--py-spy", metavar="PATH", help="record the aduan server during the queue-page run"
    )
    parser.add_argument(
        "--warm-alerts", action="store_true", help="SLA part: keep the alert log of a kept run"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (development)")
    parser.add_argument("--reuse", metavar="DATABASE", help="measure a kept database again")
    args = parser.parse_args(argv)
    args.parts = [p for p in args.parts.split(",") if p]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}")
    if args.cases < 100 or not 0 < args.open_share < 1:
        parser.error("--cases >= 100 and 0 < --open-share < 1")
    args.jwt_secret = secrets.token_urlsafe(48)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database = args.reuse or scale_data.new_database_name()
    if args.keep or args.reuse:
        # A kept database keeps data keys wrapped under a key derived from this secret: the
        # runs that reuse it must have the same one (a bench-only secret).
        args.jwt_secret = hashlib.sha256(f"aduan-scale-bench:{database}".encode()).hexdigest()
    created = args.reuse is not None
    with bp.sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="aduan-scale-") as tmp:
        try:
            if args.reuse is None:
                scale_data.create_database(database)
                created = True
            return benchmark(args, Path(tmp), database)
        except KeyboardInterrupt:
            print("\ninterrupted; cleaning up", file=sys.stderr)
            return 130
        finally:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                if created and not args.keep:
                    scale_data.drop_database(database)
                    print(f"dropped database {database}", file=sys.stderr)
                elif created:
                    print(f"kept database {database} (--reuse {database})", file=sys.stderr)
            finally:
                signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
