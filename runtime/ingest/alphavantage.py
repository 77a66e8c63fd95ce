"""The Alpha Vantage client: paced calls, bounded retries, a daily budget, a redacted key.

One `fetch_daily` (TIME_SERIES_DAILY) per symbol, and `fetch_splits` (SPLITS) when its
split record is due; both count every request, retries included, against the day's call
budget and refuse a call that does not fit (CallBudgetSpent). A call waits for the
pacer's slot; burst throttles and transport failures are retried with exponential
backoff (bounded by `RetryPolicy.max_attempts` and by the run's time budget), and
`full` falls back to `compact` once if the key is not allowed `full`. The key is added to the
request parameters only; logged URLs carry `apikey=***`, and every reason that
leaves the client has the key scrubbed out.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests
import urllib3
from aws_lambda_powertools import Logger

from runtime.ingest.answers import DailySeries, read_answer
from runtime.ingest.call_budget import CallBudget
from runtime.ingest.errors import (
    ApiProblem,
    BurstThrottled,
    CallBudgetSpent,
    CallCountUnavailable,
    InvalidRequest,
    OutOfTime,
    PremiumFullOutput,
    TransportFailure,
    Unreachable,
)
from runtime.ingest.pacing import Clock, Pacer
from runtime.ingest.settings import SERVICE_NAME
from runtime.ingest.splits import SPLITS_FUNCTION, SplitRecord, read_splits_answer

FUNCTION = "TIME_SERIES_DAILY"
REDACTED = "***"
# The documentation's public key: not a secret, and redacting the word would mangle
# the API's own message about it.
PUBLIC_DEMO_KEY = "demo"
CONNECT_TIMEOUT_SECONDS = 5.0
#: Attempts at a symbol whose connection is refused or whose host does not resolve.
UNREACHABLE_ATTEMPTS = 2
_APIKEY_PARAMETER = re.compile(r"(apikey=)[^&\s'\"]*", re.IGNORECASE)

T = TypeVar("T")

logger = Logger(service=SERVICE_NAME, child=True)
# urllib3 logs every request line, query string and key included, at DEBUG.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry burst throttles and transport failures.

    The n-th retry waits `base * 2**(n-1)` seconds, at most `max_backoff`.
    """

    max_attempts: int = 4
    throttle_backoff: float = 12.0
    transport_backoff: float = 1.0
    max_backoff: float = 60.0

    def backoff(self, problem: ApiProblem, retry: int) -> float:
        base = (
            self.throttle_backoff if isinstance(problem, BurstThrottled) else self.transport_backoff
        )
        return min(self.max_backoff, base * 2 ** (retry - 1))


@dataclass(frozen=True)
class Fetched:
    """A usable answer for one symbol and what it cost."""

    series: DailySeries
    output_size: str  # what was served: compact after a fallback from full
    attempts: int
    throttled: int


@dataclass(frozen=True)
class FetchedSplits:
    """A usable split record for one symbol and what it cost."""

    record: SplitRecord
    attempts: int
    throttled: int


class AlphaVantageClient:
    """Fetches daily series for one run. Thread-safe when given a thread-safe pacer."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        pacer: Pacer,
        clock: Clock,
        timeout: float,
        retry: RetryPolicy,
        session: requests.Session | None = None,
        budget: CallBudget | None = None,
    ) -> None:
        self._base_url = base_url
        self._api_key = api_key
        self._pacer = pacer
        self._clock = clock
        self._timeout = timeout
        self._retry = retry
        self._session = session or requests.Session()
        self._budget = budget
        self._full_refused = threading.Event()

    def fetch_daily(
        self,
        symbol: str,
        *,
        output_size: str,
        datatype: str,
        time_left: Callable[[], float],
    ) -> Fetched:
        """The series for `symbol`, or raise the ApiProblem that ended the attempts.

        `time_left()` says how many seconds the run may still spend; an attempt (its
        pacing wait, backoff and worst-case request time) must fit in it, otherwise
        OutOfTime is raised before calling.
        """
        size = "compact" if self._full_refused.is_set() else output_size

        def fall_back_to_compact() -> bool:
            nonlocal size
            if size != "full":
                return False
            self._full_refused.set()
            size = "compact"
            logger.warning(
                "outputsize=full is premium-only for this key; fell back to compact",
                extra={"symbol": symbol},
            )
            return True

        def call() -> DailySeries:
            params = {"function": FUNCTION, "symbol": symbol, "outputsize": size}
            return read_answer(self._call(symbol, {**params, "datatype": datatype}), symbol)

        series, attempts, throttled = self._attempts(symbol, call, time_left, fall_back_to_compact)
        return Fetched(series, size, attempts, throttled)

    def fetch_splits(self, symbol: str, *, time_left: Callable[[], float]) -> FetchedSplits:
        """The symbol's split record (SPLITS), with the same pacing, retries, budget and
        failure classes as `fetch_daily`; raises the ApiProblem that ended the attempts."""

        def call() -> SplitRecord:
            body = self._call(symbol, {"function": SPLITS_FUNCTION, "symbol": symbol})
            return read_splits_answer(body, symbol)

        record, attempts, throttled = self._attempts(symbol, call, time_left)
        return FetchedSplits(record, attempts, throttled)

    def _attempts(
        self,
        symbol: str,
        call: Callable[[], T],
        time_left: Callable[[], float],
        fall_back: Callable[[], bool] | None = None,
    ) -> tuple[T, int, int]:
        """`call()` until it answers, retrying what is retryable; (answer, attempts, throttled).

        `fall_back()` is asked when the key is refused `outputsize=full`: True to try again.
        """
        attempts = throttled = retries = 0
        problem: ApiProblem | None = None
        while True:
            backoff = self._retry.backoff(problem, retries) if problem else 0.0
            needed = backoff + self._pacer.wait_time() + CONNECT_TIMEOUT_SECONDS + self._timeout
            if needed > time_left():
                last = f" (last answer: {problem.reason})" if problem else ""
                raise self._finish(
                    OutOfTime(f"the run's time budget does not allow another call{last}"),
                    attempts,
                    throttled,
                )
            if backoff:
                logger.info(
                    "retrying after backoff",
                    extra={"symbol": symbol, "backoff_seconds": backoff, "attempt": attempts + 1},
                )
                self._clock.sleep(backoff)
            try:
                refusal = self._budget.take() if self._budget else None
            except CallCountUnavailable as unavailable:
                raise self._finish(unavailable, attempts, throttled) from None
            if refusal:
                raise self._finish(CallBudgetSpent(refusal), attempts, throttled)
            attempts += 1
            try:
                return call(), attempts, throttled
            except PremiumFullOutput as refused:
                if fall_back is None or not fall_back():
                    raise self._finish(self._scrubbed(refused), attempts, throttled) from None
                problem = None
                continue
            except ApiProblem as failure:
                failure = self._scrubbed(failure)
                throttled += isinstance(failure, BurstThrottled)
                most = UNREACHABLE_ATTEMPTS if isinstance(failure, Unreachable) else None
                if not failure.retryable or attempts >= (most or self._retry.max_attempts):
                    if failure.retryable:
                        failure.reason += f" (gave up after {attempts} attempts)"
                    raise self._finish(failure, attempts, throttled) from None
                logger.warning(
                    "retryable answer", extra={"symbol": symbol, "reason": failure.reason}
                )
                problem = failure
                retries += 1

    def redact(self, text: str) -> str:
        """`text` with the key replaced, in plain and URL-encoded form, wherever it stands
        whole (a short key's letters inside other words stay), and any `apikey=` value."""
        text = _APIKEY_PARAMETER.sub(rf"\g<1>{REDACTED}", text)
        if self._api_key == PUBLIC_DEMO_KEY:
            return text
        for form in {self._api_key, requests.utils.quote(self._api_key, safe="")}:
            whole = rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])"
            text = re.sub(whole, REDACTED, text)
        return text

    def _call(self, symbol: str, params: dict[str, str]) -> str:
        """One request's body, or the transport or HTTP problem it met."""
        query = {**params, "apikey": self._api_key}
        shown_url = self.redact(requests.Request("GET", self._base_url, params=query).prepare().url)
        with self._pacer.slot() as call:
            logger.info("calling the API", extra={"symbol": symbol, "url": shown_url})
            try:
                response = self._session.get(
                    self._base_url, params=query, timeout=(CONNECT_TIMEOUT_SECONDS, self._timeout)
                )
            except requests.Timeout:
                timeout = f"{self._timeout:g} s"
                raise TransportFailure(f"the API did not answer within {timeout}") from None
            except requests.RequestException as error:
                # The exception text carries the full URL, key included: never chain it.
                kind = TransportFailure
                if _never_connected(error):
                    call.refund()  # nothing reached the server: no budget spent
                    kind = Unreachable
                raise kind(f"could not reach the API: {type(error).__name__}: {error}") from None
        if response.status_code == 429:
            raise BurstThrottled("the API answered HTTP 429 Too Many Requests")
        if response.status_code >= 500:
            raise TransportFailure(f"the API answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise InvalidRequest(f"the API answered HTTP {response.status_code}")
        return response.text

    def _scrubbed(self, problem: ApiProblem) -> ApiProblem:
        problem.reason = self.redact(problem.reason)
        problem.args = (problem.reason,)
        return problem

    def _finish(self, problem: ApiProblem, attempts: int, throttled: int) -> ApiProblem:
        problem.attempts = attempts
        problem.throttled = throttled
        problem.args = (problem.reason,)
        return problem


def _never_connected(error: requests.RequestException) -> bool:
    """A refused connection or an unknown host (not a reset or a timeout mid-call)."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )
