"""Duplicates read model: its rebuild and its query against the queue read model's, same run.

Files N cases through the real application on PostgreSQL (sealed descriptions and reporters,
so the projection opens one data key per case as in production), then:

1. rebuilds ``queues`` (baseline: a case-replaying read model) and ``duplicates`` one after the
   other, over the same log; prints events/s of each and the ratio duplicates/queues;
2. runs ``--queries`` likely-duplicate searches (``view.candidates``, as the route calls it) for
   random cases, and as many queue pages (``view.page``, 50 items) as the baseline; prints the
   median and p90 latency of each and the ratio.

Creates ``aduan_bench_dup_<8 hex>`` on 127.0.0.1:5432 (user postgres) and drops it at the end.
Usage: ``.venv/bin/python bench/duplicates.py [--cases 5000] [--queries 300]``.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from application.access import Principal, Role  # noqa: E402
from application.complaints import NewCase  # noqa: E402
from domain.values import Reporter  # noqa: E402
from domain.vocabulary import Category, Channel, Kind  # noqa: E402
from infrastructure.settings import Settings  # noqa: E402
from interfaces.bootstrap import bootstrap  # noqa: E402
from interfaces.rebuild import rebuild  # noqa: E402
from projections.duplicates.view import DuplicateQuery  # noqa: E402
from projections.queues.view import QueueQuery  # noqa: E402

SERVER = os.environ.get("ADUAN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PRODUCTS = [
    "krim pemutih",
    "jamu pegal linu",
    "susu formula",
    "suplemen vitamin",
    "obat batuk",
    "mi instan",
    "kopi sachet",
    "sabun wajah",
    "teh herbal",
    "minuman energi",
]
PROBLEMS = [
    "tanpa izin edar",
    "kedaluwarsa",
    "kemasan rusak",
    "menyebabkan iritasi",
    "berbau aneh",
    "label tidak jelas",
    "iklan berlebihan",
    "harga tidak wajar",
]
PLACES = ["pasar", "toko daring", "apotek", "warung", "minimarket", "pedagang keliling"]
CATEGORIES = [
    Category.KOSMETIK,
    Category.OBAT_TRADISIONAL,
    Category.PANGAN_OLAHAN,
    Category.SUPLEMEN_KESEHATAN,
    Category.OBAT,
]


def _case(rng: random.Random) -> NewCase:
    product, problem, place = rng.choice(PRODUCTS), rng.choice(PROBLEMS), rng.choice(PLACES)
    person = rng.randrange(2000)
    return NewCase(
        kind=Kind.COMPLAINT,
        channel=Channel.WHATSAPP,
        category=rng.choice(CATEGORIES),
        subject=f"{product.capitalize()} {problem}",
        description=f"Pelapor membeli {product} di {place}; produk {problem}. "
        f"Nomor pesanan {rng.randrange(10**6)}.",
        reporter=Reporter(f"Pelapor {person}", f"p{person}@example.id", None, None),
        anonymous=False,
        confidential=False,
        needs_inspection=False,
        intake_unit="ULPK-PUSAT",
        product_registration=f"NA{rng.randrange(10**4, 10**4 + 500)}1200123"
        if rng.random() < 0.3
        else None,
    )


def _pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * p / 100 + 0.5) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args(argv)
    name = f"aduan_bench_dup_{secrets.token_hex(4)}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    load_before = os.getloadavg()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            container = bootstrap(
                Settings(database_url=url, jwt_secret=secrets.token_hex(24), var_dir=Path(tmp))
            )
            try:
                return _run(container, args)
            finally:
                container.close()
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        print(f"load average before: {load_before}, after: {os.getloadavg()}")


def _run(container, args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    officer = Principal("bench", frozenset({Role.INTAKE_OFFICER}), frozenset({"ULPK-PUSAT"}))
    started = time.perf_counter()
    ids = [container.complaints.file_case(officer, _case(rng)).id for _ in range(args.cases)]
    print(f"filed {args.cases} cases in {time.perf_counter() - started:.1f} s")

    queues = rebuild(container, "queues")
    duplicates = rebuild(container, "duplicates")
    print(f"rebuild queues:     {queues.events} events, {queues.rate:8.0f} ev/s (baseline)")
    print(f"rebuild duplicates: {duplicates.events} events, {duplicates.rate:8.0f} ev/s")
    print(f"ratio duplicates/queues (rate): {duplicates.rate / queues.rate:.2f}x")

    view = container.catalog.live("duplicates")
    queue = container.catalog.live("queues")
    searched, paged, found = [], [], []
    for case_id in rng.sample(ids, min(args.queries, len(ids))):
        probe = container.complaints.duplicate_probe(officer, case_id)
        query = DuplicateQuery(
            probe.case_id,
            probe.category,
            probe.product_registration,
            probe.email_match,
            probe.phone_match,
            probe.text,
            frozenset({"ULPK-PUSAT"}),
        )
        t0 = time.perf_counter()
        found.append(len(view.candidates(query)))
        searched.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        queue.page(QueueQuery("ULPK-PUSAT", limit=51))
        paged.append(time.perf_counter() - t0)
    ms = 1000
    print(
        f"candidates(): median {statistics.median(searched) * ms:.1f} ms, "
        f"p90 {_pct(searched, 90) * ms:.1f} ms, median {statistics.median(found)} candidates"
    )
    print(
        f"queue page():  median {statistics.median(paged) * ms:.1f} ms, "
        f"p90 {_pct(paged, 90) * ms:.1f} ms (baseline)"
    )
    ratio = statistics.median(searched) / statistics.median(paged)
    print(f"ratio candidates/page (median): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
