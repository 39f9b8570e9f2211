"""The two servers of bench/scale.py (uvicorn imports this module with --app-dir bench)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
BARE_TABLE = "bare_items"
BARE_COLUMNS = (
    "id, tracking_number, status, kind, category, channel, subject, received_at, intake_unit, "
    "handling_unit, assignee, restricted, confidential, waiting_for_complainant, next_stage, "
    "next_due_at, next_due_soon_at, version, sort_key"
)


def aduan_app() -> Any:
    """aduan as `aduan serve --api-only` builds it, from the ADUAN_* environment."""
    # --app-dir put bench/ first on sys.path, where bench/projections.py would shadow the package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
    from interfaces.bootstrap import bootstrap

    return bootstrap().http_app()


def bare_app() -> Any:
    """The baseline: one sync endpoint, one indexed SELECT of a page of a plain table."""
    from fastapi import FastAPI
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(os.environ["BENCH_DATABASE_URL"], min_size=5, max_size=5, open=True)
    pool.wait()
    statement = (
        f"SELECT {BARE_COLUMNS} FROM {BARE_TABLE} WHERE handling_unit = %s "
        "ORDER BY sort_key, id LIMIT %s"
    )
    names = [c.strip() for c in BARE_COLUMNS.split(",")]
    app = FastAPI()

    @app.get("/bare/{unit}")
    def page(unit: str, limit: int = 50) -> dict[str, Any]:
        with pool.connection() as conn:
            rows = conn.execute(statement, (unit, limit + 1)).fetchall()
        return {"unit": unit, "items": [dict(zip(names, r, strict=True)) for r in rows[:limit]]}

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
