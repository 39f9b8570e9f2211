"""Fan-out of live queue changes: in-process, or through Redis pub/sub across processes."""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import redis

log = logging.getLogger("aduan.feed")

Deliver = Callable[[dict[str, Any]], None]


class LocalFeed:
    """Subscribers in this process only (the embedded default, and Redis's fallback)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Deliver]] = defaultdict(set)
        self._lock = threading.Lock()

    def publish(self, unit: str, message: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(unit, ()))
        for deliver in subscribers:
            deliver(message)

    def subscribe(self, unit: str, deliver: Deliver) -> Callable[[], None]:
        with self._lock:
            self._subscribers[unit].add(deliver)

        def cancel() -> None:
            with self._lock:
                self._subscribers[unit].discard(deliver)

        return cancel


class RedisFeed:
    """Redis pub/sub, so an API process hears what a separate worker committed.

    Redis is speed and fan-out only: when it is down, publishing falls back to this process's
    own subscribers and the read models carry on; a subscriber reconnects by itself.
    """

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._local = LocalFeed()

    def _channel(self, unit: str) -> str:
        return f"{self._prefix}queue:{unit}"

    def publish(self, unit: str, message: dict[str, Any]) -> None:
        try:
            self._client.publish(self._channel(unit), json.dumps(message))
        except redis.RedisError as error:
            log.warning("Redis unavailable, queue feed is local only: %s", error)
            self._local.publish(unit, message)

    def subscribe(self, unit: str, deliver: Deliver) -> Callable[[], None]:
        """Subscribed before it returns (when Redis answers), so nothing published after is lost."""
        stop = threading.Event()
        cancel_local = self._local.subscribe(unit, deliver)

        def connect() -> Any:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(self._channel(unit))
            return pubsub

        try:
            first: Any = connect()
        except redis.RedisError as error:
            log.warning("queue feed subscription failed (%s); retrying", error)
            first = None

        def listen(pubsub: Any) -> None:
            while not stop.is_set():
                try:
                    pubsub = pubsub or connect()
                    while not stop.is_set():
                        message = pubsub.get_message(timeout=0.5)
                        if message is not None:
                            deliver(json.loads(message["data"]))
                except redis.RedisError as error:
                    log.warning("queue feed subscription lost (%s); retrying", error)
                    pubsub = None
                    stop.wait(1.0)
            if pubsub is not None:
                pubsub.close()

        thread = threading.Thread(
            target=listen, args=(first,), name=f"aduan-feed-{unit}", daemon=True
        )
        thread.start()

        def cancel() -> None:
            stop.set()
            cancel_local()

        return cancel
