"""Request pacing: stay inside the key's budget without a fixed sleep.

`RequestPacer` is a token bucket of `budget` tokens where each token comes back one
`period` after the call that spent it has *finished*. The first `budget` calls go
out at once (burst up to the budget), later ones start exactly when a token returns
(spaced). Counting from the end of a call rather than its start means that, whatever
the network delay, no window of `period` seconds at the server ever sees more than
`budget` calls; a bucket that refills continuously can break a sliding-window limit.
`min_interval` additionally spaces consecutive starts (free keys have a per-second
burst limit on top of the per-minute budget).

Time comes from an injectable `Clock`, so tests run in fake time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Protocol

_IN_FLIGHT = float("inf")


class Clock(Protocol):
    """Time as the run sees it."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def now(self) -> datetime:
        """Timezone-aware current time (for ingested_at and the default ingest date)."""
        ...


class Pacer(Protocol):
    """Decides when a call may start."""

    def wait_time(self) -> float:
        """Seconds until a call could start if asked now."""
        ...

    def slot(self) -> AbstractContextManager[CallSlot]:
        """Held for the duration of one call."""
        ...


class CallSlot:
    """One call's hold on the pacer. `refund()` when the call never reached the server (a
    refused connection, an unknown host): it did not spend the key's budget."""

    def __init__(self) -> None:
        self.refunded = False

    def refund(self) -> None:
        self.refunded = True


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> datetime:
        return datetime.now(UTC)


class RequestPacer:
    """At most `budget` calls per `period` seconds, and `min_interval` between starts.

    Thread-safe: concurrent workers share one pacer.
    """

    def __init__(
        self, budget: int, period: float, *, clock: Clock, min_interval: float = 0.0
    ) -> None:
        if budget < 1 or period <= 0 or min_interval < 0:
            raise ValueError("budget must be >= 1, period > 0 and min_interval >= 0")
        self._period = period
        self._min_interval = min_interval
        self._clock = clock
        # When each token can next be spent; _IN_FLIGHT while its call is running.
        self._ready_at = [float("-inf")] * budget
        self._last_start = float("-inf")
        self._changed = threading.Condition()

    def wait_time(self) -> float:
        """Seconds until a call could start if asked now (0 when a token is free).

        If every token is in flight, this is the soonest a token could come back.
        """
        with self._changed:
            ready = min(self._ready_at)
            now = self._clock.monotonic()
            if ready == _IN_FLIGHT:
                ready = now + self._period
            return max(0.0, max(ready, self._last_start + self._min_interval) - now)

    @contextmanager
    def slot(self) -> Iterator[CallSlot]:
        """Wait for a token, run the call inside the block, return the token after it (at
        once, as it was, when the call was refunded)."""
        token, was_ready_at = self._acquire()
        call = CallSlot()
        try:
            yield call
        finally:
            self._release(token, was_ready_at if call.refunded else None)

    def _acquire(self) -> tuple[int, float]:
        while True:
            with self._changed:
                ready = min(self._ready_at)
                if ready == _IN_FLIGHT:
                    self._changed.wait()
                    continue
                now = self._clock.monotonic()
                start = max(ready, self._last_start + self._min_interval)
                if start <= now:
                    token = self._ready_at.index(ready)
                    self._ready_at[token] = _IN_FLIGHT
                    self._last_start = now
                    return token, ready
                pause = start - now
            # Sleep without the lock so finishing calls can return their tokens.
            self._clock.sleep(pause)

    def _release(self, token: int, ready_at: float | None = None) -> None:
        with self._changed:
            self._ready_at[token] = (
                self._clock.monotonic() + self._period if ready_at is None else ready_at
            )
            self._changed.notify_all()
