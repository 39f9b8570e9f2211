"""The scale generator (issue 5): a million stored cases, fast, in the library's exact format.

Cases are cloned from templates. A few thousand template cases are driven through their
lifecycles with the domain's own commands (``bench/projections.py``'s ``CaseFactory``), stored
with the application's mapper and ``COPY``, and projected by the real read models. Every other
case is a copy of one template under a new id and a new tracking number: the same stored event
bytes with the tracking number (and, in the index event, the case id) replaced, and the same
read-model rows with the id, tracking number and pickled state's id replaced, all written with
binary ``COPY``. ``check_clones`` rebuilds the read models from the log and compares them with
the copied rows, byte for byte.
"""

from __future__ import annotations

import importlib.util
import queue
import random
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if sys.path and Path(sys.path[0] or ".").resolve() == BENCH_DIR:
    sys.path[0] = str(ROOT)  # bench/projections.py would shadow the projections package


def _load_bench_projections() -> Any:
    found = sys.modules.get("bench_projections")
    if found is not None:
        return found
    spec = importlib.util.spec_from_file_location("bench_projections", BENCH_DIR / "projections.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_projections"] = module
    spec.loader.exec_module(module)
    return module


bp = _load_bench_projections()

if TYPE_CHECKING:
    from interfaces.bootstrap import Container

PG_SERVER = bp.PG_SERVER
TOP_BIT = 1 << 127
# The read-model tables that hold one case per row (or several rows per case) and how to copy
# them: table name in the view, the column holding the case id.
CASE_TABLES = {
    ("queues", "items"): "id",
    ("sla", "stages"): "case_id",
    ("sla", "cases"): "id",
    ("monev", "facts"): "id",
}


def small_uuid(rng: random.Random) -> UUID:
    """A version-4 UUID whose int has exactly 127 bits: pickled, it is always ``LONG1`` of 16
    bytes (pickle writes ints in the fewest bytes, sign bit included), so an id can be swapped
    inside a pickled case state without changing its length. Its first hex digit is 4 to 7."""
    return UUID(int=(rng.getrandbits(128) & ~TOP_BIT) | (TOP_BIT >> 1), version=4)


def pickled_id(case_id: UUID) -> bytes:
    """How pickle writes the int of a ``small_uuid``: opcode LONG1, length 16, little-endian."""
    return b"\x8a\x10" + case_id.int.to_bytes(16, "little")


@dataclass
class Template:
    case_id: UUID
    tracking_number: str
    received: datetime
    is_open: bool
    events: list[tuple[UUID, int, str, bytes]]  # the case's and its index's stored events
    rows: dict[tuple[str, str], list[tuple[Any, ...]]] = field(default_factory=dict)
    copies: int = 1  # the template itself included


@dataclass
class ScaleData:
    cases: int = 0
    open_cases: int = 0
    events: int = 0
    templates: int = 0
    open_templates: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    units: Counter[str] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None
    head: int = 0


class CopyStream(threading.Thread):
    """Binary COPY of rows into one table, in a thread and on a connection of its own."""

    def __init__(self, database_url: str, table: str, columns: list[str], types: list[str]):
        super().__init__(name=f"copy-{table}", daemon=True)
        self.url = database_url
        self.sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        self.types = types
        self.chunks: queue.Queue[list[Any] | None] = queue.Queue(maxsize=3)
        self.error: BaseException | None = None
        self.rows = 0

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.url) as conn:
                while (chunk := self.chunks.get()) is not None:
                    with conn.cursor() as cursor, cursor.copy(self.sql) as copy:
                        copy.set_types(self.types)
                        for row in chunk:
                            copy.write_row(row)
                    conn.commit()
                    self.rows += len(chunk)
        except BaseException as error:
            self.error = error
            while self.chunks.get() is not None:
                pass

    def put(self, chunk: list[Any]) -> None:
        if self.error is not None:
            raise RuntimeError(f"COPY failed: {self.sql}") from self.error
        self.chunks.put(chunk)

    def finish(self) -> None:
        self.chunks.put(None)
        self.join()
        if self.error is not None:
            raise RuntimeError(f"COPY failed: {self.sql}") from self.error


class Buffered:
    def __init__(self, stream: CopyStream, size: int) -> None:
        self.stream = stream
        self.size = size
        self.rows: list[Any] = []

    def add(self, row: Any) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.size:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.stream.put(self.rows)
            self.rows = []


def table_types(database_url: str, table: str, columns: list[str]) -> list[str]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            (table,),
        ).fetchall()
    types = dict(rows)
    return [types[c] for c in columns]


def table_columns(database_url: str, table: str) -> list[str]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = %s::regclass "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (table,),
        ).fetchall()
    return [r[0] for r in rows]


def arrivals(rng: random.Random, count: int, start: datetime, end: datetime) -> list[datetime]:
    """``count`` arrival instants over [start, end), thinned by office hours (WIB), sorted."""
    span = (end - start).total_seconds()
    found: list[datetime] = []
    while len(found) < count:
        at = start + timedelta(seconds=rng.random() * span)
        if rng.random() < bp.arrival_weight(at):
            found.append(at)
    found.sort()
    return found


class ScaleGenerator:
    """Fills the container's database with ``cases`` cases, ``open_share`` of them open."""

    def __init__(
        self,
        container: Container,
        cases: int,
        open_share: float = 0.1,
        templates: int = 20000,
        days: float = 365,
        seed: int = 20261203,
        chunk: int = 20000,
        say: Callable[[str], None] = print,
    ) -> None:
        self.container = container
        self.cases = cases
        self.open_share = open_share
        self.templates = max(20, min(templates, cases // 5))
        self.days = days
        self.seed = seed
        self.chunk = chunk
        self.say = say
        self.url = container.settings.database_url
        app = container.complaints
        recorder: Any = app.recorder
        self.events_table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'

    # --- 1. templates through the real domain --------------------------------------------

    def make_templates(self, end: datetime) -> list[Template]:
        from domain.tracking_index import TrackingNumberIndex

        app = self.container.complaints
        rng = random.Random(self.seed)
        factory = bp.CaseFactory(rng, app.policies.current().version)
        factory.uuid = lambda: small_uuid(rng)  # type: ignore[method-assign]
        to_stored = app.mapper.to_stored_event
        start = end - timedelta(days=self.days)
        made: list[Template] = []
        for received in arrivals(rng, self.templates, start, end):
            case, index = factory.receive(received)
            budget = bp.stall_budget(rng)
            steps = factory.lifecycle(case)
            try:
                at = next(steps)
                while at <= end and budget > 0:
                    budget -= 1
                    at = steps.send(None)
            except StopIteration:
                pass
            stored = [to_stored(e) for e in [*case.collect_events(), *index.collect_events()]]
            assert stored[-1].originator_id == TrackingNumberIndex.id_for(case.tracking_number)
            made.append(
                Template(
                    case.id,
                    case.tracking_number,
                    received,
                    case.is_open,
                    [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored],
                )
            )
        return made

    def plan_copies(self, templates: list[Template]) -> None:
        """How many copies of each template: ``open_share`` of all cases open, the rest closed."""
        rng = random.Random(self.seed + 7)
        want_open = round(self.cases * self.open_share)
        for is_open, want in ((True, want_open), (False, self.cases - want_open)):
            pool = [t for t in templates if t.is_open == is_open]
            if len(pool) > want:
                raise ValueError(f"{len(pool)} templates with open={is_open} for {want} cases")
            for t in rng.choices(pool, k=want - len(pool)) if pool else []:
                t.copies += 1
            if not pool and want:
                raise ValueError(f"no template with open={is_open}: raise --templates")

    # --- 2. the templates stored and projected for real -----------------------------------

    def store_templates(self, templates: list[Template]) -> None:
        stream = CopyStream(
            self.url,
            self.events_table,
            ["originator_id", "originator_version", "topic", "state"],
            ["uuid", "int8", "text", "bytea"],
        )
        stream.start()
        out = Buffered(stream, self.chunk)
        try:
            for t in templates:
                for row in t.events:
                    out.add(row)
            out.flush()
        finally:
            stream.finish()

    def project_templates(self) -> None:
        """Every read model (and the audit trail) brought to the head by the real projections."""
        from projections.runner import Binding, Runner

        container = self.container
        catalog = container.catalog
        bindings = [Binding(container.projections[n], catalog.target(n)) for n in catalog.names()]
        runner = Runner(
            container.event_log(),
            bindings,
            batch_size=container.settings.projection_batch_size,
            catch_up_batch_size=container.settings.projection_catch_up_batch_size,
        )
        head = container.event_log().head()
        while any(b.view.position() < head for b in bindings):
            runner.catch_up()

    def read_template_rows(self, templates: list[Template]) -> dict[tuple[str, str], list[str]]:
        import psycopg

        by_id = {t.case_id: t for t in templates}
        columns: dict[tuple[str, str], list[str]] = {}
        catalog = self.container.catalog
        with psycopg.connect(self.url) as conn, conn.cursor(binary=True) as cursor:
            for (name, table), id_column in CASE_TABLES.items():
                view = catalog.target(name)
                full = view.t(table)
                columns[(name, table)] = table_columns(self.url, full)
                cursor.execute(f"SELECT * FROM {full}")
                at = columns[(name, table)].index(id_column)
                for row in cursor.fetchall():
                    by_id[row[at]].rows.setdefault((name, table), []).append(tuple(row))
        return columns

    def recount_queues(self) -> None:
        """The copies went into the queue items by COPY, past the projection that keeps the
        counts per (unit, restricted, status): sum them once from the items."""
        import psycopg

        view = self.container.catalog.target("queues")
        counts, items = view.t("counts"), view.t("items")
        with psycopg.connect(self.url) as conn:
            conn.execute(f"DELETE FROM {counts}")
            conn.execute(
                f"INSERT INTO {counts} (handling_unit, restricted, status, n) "
                f"SELECT handling_unit, restricted, status, count(*) FROM {items} GROUP BY 1, 2, 3"
            )

    # --- 3. the copies ---------------------------------------------------------------------

    def write_copies(
        self, templates: list[Template], columns: dict[tuple[str, str], list[str]]
    ) -> int:
        from domain.tracking_index import TrackingNumberIndex
        from domain.tracking_number import RANDOM_BYTES, tracking_number_from

        rng = random.Random(self.seed + 11)
        catalog = self.container.catalog
        streams: dict[Any, CopyStream] = {
            "events": CopyStream(
                self.url,
                self.events_table,
                ["originator_id", "originator_version", "topic", "state"],
                ["uuid", "int8", "text", "bytea"],
            )
        }
        for key in CASE_TABLES:
            full = catalog.target(key[0]).t(key[1])
            streams[key] = CopyStream(
                self.url, full, columns[key], table_types(self.url, full, columns[key])
            )
        outs = {k: Buffered(s, self.chunk) for k, s in streams.items()}
        for s in streams.values():
            s.start()
        numbers = {t.tracking_number for t in templates}
        written = 0
        try:
            events_out = outs["events"]
            for t in templates:
                old_tn = t.tracking_number.encode()
                old_id = t.case_id
                old_id_bytes = pickled_id(old_id)
                old_hex = old_id.hex.encode()
                received, *rest = [e for e in t.events if e[0] == old_id]
                assigned = t.events[-1]
                assert received[1] == 1 and assigned[0] != old_id
                assert received[3].count(old_tn) == 1 and assigned[3].count(old_hex) == 1
                plans = []
                for key, rows in t.rows.items():
                    names = columns[key]
                    id_at = names.index(CASE_TABLES[key])
                    tn_at = names.index("tracking_number") if "tracking_number" in names else None
                    state_at = names.index("state") if "state" in names else None
                    for row in rows:
                        if state_at is not None:
                            state = bytes(row[state_at])
                            assert state.count(old_id_bytes) == 1, "id not once in the state"
                            assert state.count(old_tn) == 1, "number not once in the state"
                        plans.append((outs[key], list(row), id_at, tn_at, state_at))
                for _ in range(t.copies - 1):
                    case_id = small_uuid(rng)
                    while True:
                        number = tracking_number_from(rng.randbytes(RANDOM_BYTES))
                        if number not in numbers:
                            numbers.add(number)
                            break
                    tn = number.encode()
                    events_out.add((case_id, 1, received[2], received[3].replace(old_tn, tn)))
                    for e in rest:
                        events_out.add((case_id, e[1], e[2], e[3]))
                    events_out.add(
                        (
                            TrackingNumberIndex.id_for(number),
                            1,
                            assigned[2],
                            assigned[3].replace(old_tn, tn).replace(old_hex, case_id.hex.encode()),
                        )
                    )
                    new_id_bytes = pickled_id(case_id)
                    for out, row, id_at, tn_at, state_at in plans:
                        row = row.copy()
                        row[id_at] = case_id
                        if tn_at is not None:
                            row[tn_at] = number
                        if state_at is not None:
                            row[state_at] = (
                                bytes(row[state_at])
                                .replace(old_id_bytes, new_id_bytes)
                                .replace(old_tn, tn)
                            )
                        out.add(row)
                    written += 1
            for out in outs.values():
                out.flush()
        finally:
            for s in streams.values():
                s.finish()
        return written

    def bring_positions_to_head(self) -> int:
        import psycopg

        head = self.container.event_log().head()
        views = [self.container.catalog.target(n) for n in self.container.catalog.views]
        with psycopg.connect(self.url, autocommit=True) as conn:
            for view in views:
                conn.execute(
                    "UPDATE aduan_read_models SET position = %s, updated_at = %s "
                    "WHERE name = %s AND generation = %s",
                    (head, datetime.now(UTC), view.name, view.generation),
                )
        return head

    def build_audit(self, events: int | None = None) -> tuple[int, float]:
        """The audit trail by the real (append-only) audit projection, over the first ``events``
        of the log (all by default); returns its position and the seconds it took."""
        from projections.runner import Binding, Runner

        container = self.container
        view = container.catalog.fixed["audit"]
        runner = Runner(
            container.event_log(),
            [Binding(container.projections["audit"], view)],
            batch_size=container.settings.projection_batch_size,
            catch_up_batch_size=container.settings.projection_catch_up_batch_size,
        )
        head = container.event_log().head()
        target = head if events is None else min(head, events)
        started = time.perf_counter()
        while view.position() < target:
            if not runner.step():
                break
        return view.position(), time.perf_counter() - started

    def run(self) -> ScaleData:
        import psycopg

        out = ScaleData()
        end = datetime.now(UTC).replace(microsecond=0)
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            out.seconds[name] = now - clock
            clock = now

        templates = self.make_templates(end)
        self.plan_copies(templates)
        lap("templates (domain)")
        out.templates = len(templates)
        out.open_templates = sum(t.is_open for t in templates)
        self.say(
            f"   {out.templates} templates ({out.open_templates} open) made by the domain in "
            f"{out.seconds['templates (domain)']:.1f} s"
        )
        self.store_templates(templates)
        lap("templates stored (COPY)")
        self.project_templates()
        lap("templates projected (real read models)")
        columns = self.read_template_rows(templates)
        lap("template rows read")
        self.say(f"   templates stored and projected; copying {self.cases - len(templates)} cases")
        self.write_copies(templates, columns)
        lap("copies (COPY)")
        self.recount_queues()
        lap("queue counts summed")
        out.head = self.bring_positions_to_head()
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        lap("VACUUM ANALYZE")
        for t in templates:
            out.cases += t.copies
            out.open_cases += t.copies if t.is_open else 0
            out.events += t.copies * len(t.events)
            for row in t.rows.get(("queues", "items"), []):
                out.statuses[row[2]] += t.copies
                out.units[row[9]] += t.copies if t.is_open else 0
        out.first = templates[0].received
        out.last = end
        return out


def check_clones(container: Container, keep_fresh: bool = False) -> dict[str, tuple[int, int, int]]:
    """Rebuild the cloned read models (queues, sla, monev) from the log and compare the rows.

    Per table: (rows copied, rows rebuilt, rows that differ either way). Drops the rebuilt tables.
    """
    import psycopg

    from projections.runner import Binding, Runner

    catalog = container.catalog
    # Only the read models the generator clones; the others (duplicates, surveys, audit, the
    # LAPOR! outbox) hold the templates' rows only, and no measured query reads them.
    names = sorted({name for name, _ in CASE_TABLES})
    live = {n: catalog.target(n) for n in names}
    fresh = {n: catalog.start_rebuild(n) for n in names}
    runner = Runner(
        container.event_log(),
        [Binding(container.projections[n], fresh[n]) for n in names],
        batch_size=container.settings.projection_batch_size,
        catch_up_batch_size=container.settings.projection_catch_up_batch_size,
    )
    head = container.event_log().head()
    while any(v.position() < head for v in fresh.values()):
        runner.catch_up()
    found: dict[str, tuple[int, int, int]] = {}
    url = container.settings.database_url
    with psycopg.connect(url) as conn:
        for name in names:
            for table in live[name].tables:
                a, b = live[name].t(table), fresh[name].t(table)
                count_a = conn.execute(f"SELECT count(*) FROM {a}").fetchone()[0]  # type: ignore[index]
                count_b = conn.execute(f"SELECT count(*) FROM {b}").fetchone()[0]  # type: ignore[index]
                differ = conn.execute(
                    f"SELECT (SELECT count(*) FROM (TABLE {a} EXCEPT ALL TABLE {b}) x) + "
                    f"(SELECT count(*) FROM (TABLE {b} EXCEPT ALL TABLE {a}) y)"
                ).fetchone()[0]  # type: ignore[index]
                found[f"{name}.{table}"] = (count_a, count_b, differ)
        if keep_fresh:
            return found
        for name in names:
            fresh[name].drop(conn.cursor())
            conn.execute(
                "DELETE FROM aduan_read_models WHERE name = %s AND generation = %s",
                (name, fresh[name].generation),
            )
    return found


def new_database_name() -> str:
    return f"aduan_scale_{secrets.token_hex(4)}"


def create_database(name: str) -> None:
    from psycopg import sql

    bp.admin_execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    from psycopg import sql

    assert name.startswith("aduan_scale_"), name
    bp.admin_execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )
