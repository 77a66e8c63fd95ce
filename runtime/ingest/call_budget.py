"""The daily call budget: no day's runs together make more API calls than API_DAILY_CALL_BUDGET.

A free key gets 25 requests a day over every endpoint (../shared/docs/alphavantage.md,
Limits), so every request counts, retries included. The day's count is a state document
(runtime/ingest/ingest_state.py) every run updates before each request, so concurrent runs
and reruns share it. A run fetches prices first and split records after, so prices get the
budget first; a call that does not fit is not made (deferred to the next day).
"""

from __future__ import annotations

import threading
from datetime import date

from runtime.ingest.errors import CallCountUnavailable
from runtime.ingest.ingest_state import Document, StateError, StateStore

#: 0 means no budget (premium keys).
NO_BUDGET = 0


class CallBudget:
    """The calls one day may still make, shared by every run of that day."""

    def __init__(self, store: StateStore | None, day: date, limit: int) -> None:
        self.day = day
        self.limit = limit
        self._store = store
        self._lock = threading.Lock()
        #: The day's count as last seen, this run's and other runs' calls together.
        self.used: int | None = None

    @property
    def document_name(self) -> str:
        return f"api_calls/dt={self.day.isoformat()}.json"

    def take(self) -> str | None:
        """Count one call; None when it may be made, else why not (then it is not counted).

        Raises CallCountUnavailable when the count cannot be read or written."""
        if self.limit == NO_BUDGET or self._store is None:
            return None

        counted = False

        def count_one(document: Document) -> Document | None:
            nonlocal counted
            used = int(document.get("calls", 0))
            counted = used < self.limit
            if not counted:
                return None
            return {"day": self.day.isoformat(), "calls": used + 1, "limit": self.limit}

        try:
            stored = self._store.update(self.document_name, count_one)
        except StateError as error:
            raise CallCountUnavailable(
                f"could not count the call against the day's budget: {error}"
            ) from None
        with self._lock:
            self.used = int(stored.get("calls", 0))
        if counted:
            return None
        return (
            f"the day's call budget is spent ({self.used} of {self.limit} calls made on "
            f"{self.day.isoformat()}, UTC)"
        )
