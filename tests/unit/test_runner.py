"""The runner's loop: polling when no notification comes, and surviving a failed batch."""

from __future__ import annotations

import threading
import time

from infrastructure.event_log import ApplicationLog
from projections.queues.memory import MemoryQueueView
from projections.runner import Binding, Runner
from tests.support import POPO, build_complaints, new_case
from tests.support_history import HEAD_ALL, queue_projection


class NeverWakes:
    """A notification channel that loses every notification."""

    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        return False


class FailsOnce(MemoryQueueView):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def commit(self, changes, position: int) -> None:
        if self.failures == 0:
            self.failures += 1
            raise ConnectionError("the database went away")
        super().commit(changes, position)


def _run_until(view, head: int, runner: Runner) -> None:
    stop = threading.Event()
    thread = threading.Thread(
        target=runner.run, args=(stop, NeverWakes()), kwargs={"poll_seconds": 0.02}
    )
    thread.start()
    deadline = time.monotonic() + 20
    while view.position() < head and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join()


def test_a_lost_notification_never_stalls_a_read_model() -> None:
    app = build_complaints(POPO)
    view = MemoryQueueView()
    runner = Runner(ApplicationLog(app), [Binding(queue_projection(), view)])
    app.file_case(HEAD_ALL, new_case())
    _run_until(view, ApplicationLog(app).head(), runner)
    assert view.position() == ApplicationLog(app).head()
    app.close()


def test_a_failed_batch_is_retried_and_nothing_is_lost_or_doubled() -> None:
    app = build_complaints(POPO)
    created = [app.file_case(HEAD_ALL, new_case()).id for _ in range(3)]
    view = FailsOnce()
    runner = Runner(ApplicationLog(app), [Binding(queue_projection(), view)])
    _run_until(view, ApplicationLog(app).head(), runner)
    assert view.failures == 1
    assert {i: item.version for i, item in view.items(created).items()} == dict.fromkeys(
        created, 1
    )
    app.close()


class AlwaysFails(MemoryQueueView):
    def commit(self, changes, position: int) -> None:
        raise ValueError("this read model cannot store what the batch holds")


def test_a_read_model_that_keeps_failing_does_not_hold_the_others_back() -> None:
    app = build_complaints(POPO)
    created = [app.file_case(HEAD_ALL, new_case()).id for _ in range(3)]
    broken, healthy = AlwaysFails(), MemoryQueueView()
    runner = Runner(
        ApplicationLog(app),
        [Binding(queue_projection(), broken), Binding(queue_projection(), healthy)],
    )
    _run_until(healthy, ApplicationLog(app).head(), runner)
    assert healthy.position() == ApplicationLog(app).head()
    assert set(healthy.items(created)) == set(created)
    assert broken.position() == 0
    app.close()
