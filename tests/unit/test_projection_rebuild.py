"""Read models built live, batch by batch, equal the same read models rebuilt in one go."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.complaints import Complaints
from infrastructure.clock import ManualClock
from infrastructure.event_log import ApplicationLog
from projections.queues.memory import MemoryQueueView
from projections.queues.view import QueueQuery
from projections.runner import Binding, Runner
from tests.support import MONDAY, POPO, build_complaints
from tests.support_history import COMMANDS, UNITS, apply_step, queue_projection

steps = st.lists(
    st.tuples(
        st.sampled_from(COMMANDS),
        st.integers(0, 50),
        st.integers(0, 72),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=40,
)


def snapshot(view: MemoryQueueView) -> dict[str, Any]:
    everything = frozenset(
        {"received", "acknowledged", "routed", "in_follow_up", "closed", "reopened"}
    )
    pages: dict[str, Any] = {
        unit: view.page(QueueQuery(unit, everything, include_restricted=True, limit=10_000))
        for unit in UNITS
    }
    return pages | {"position": view.position()}


def history(commands: list[tuple[Any, ...]]) -> Complaints:
    clock = ManualClock(MONDAY)
    app = build_complaints(POPO, clock)
    cases: list = []
    for step in commands:
        apply_step(app, clock, cases, step)
    return app


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=steps, splits=st.lists(st.integers(1, 7), min_size=1, max_size=10))
def test_live_batches_in_any_split_equal_a_rebuild(commands, splits) -> None:
    app = history(commands)
    log = ApplicationLog(app)
    live = MemoryQueueView()
    binding = Binding(queue_projection(), live)
    sizes = iter(splits * 100)
    while live.position() < log.head():
        Runner(log, [binding], batch_size=next(sizes, 3)).step()
    rebuilt = MemoryQueueView()
    Runner(log, [Binding(queue_projection(), rebuilt)], batch_size=10_000).catch_up()
    assert snapshot(live) == snapshot(rebuilt)
    for case_id, item in live.items(list(live._items)).items():
        case = app.repository.get(case_id)
        assert (item.status, item.version, item.handling_unit) == (
            case.status.value,
            case.version,
            case.handling_unit,
        )
    app.close()


def test_a_projection_moves_past_events_it_ignores() -> None:
    app = history([("file", 0, 1, 3)])
    log = ApplicationLog(app)
    view = MemoryQueueView()
    Runner(log, [Binding(queue_projection(), view)]).catch_up()
    # the tracking-number index event is ignored by the queue, yet the position reaches the head
    assert view.position() == log.head() == 2
    app.close()
