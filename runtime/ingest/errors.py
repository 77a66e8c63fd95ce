"""What can go wrong in an ingestion run, as exception types.

Two families: run-level errors (`IngestError`) stop the run and make the Lambda fail;
per-symbol problems (`ApiProblem`) fail or skip one symbol and the run goes on.
Every message is written for a person and never contains the API key.
"""

from __future__ import annotations

from typing import Any


class IngestError(Exception):
    """The run as a whole cannot go on, or went wrong."""


class ConfigurationError(IngestError):
    """The environment or the event is invalid; the message names the input and the problem."""


class ApiKeyUnavailable(IngestError):
    """The API key could not be read from where the configuration says it is."""


class IngestionFailed(IngestError):
    """The run ended without a usable result (no symbol succeeded, or the key was rejected).

    `result` is the same dict a successful run returns, so callers can still report
    which symbols failed and why; objects already written stay written.
    """

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class ApiKeyRejected(IngestionFailed):
    """The API refused the key (invalid, missing or the demo key): a configuration problem."""


class SinkError(Exception):
    """Writing one symbol's bars to the raw zone failed."""


class ApiProblem(Exception):
    """An answer from the API that is not a usable series for one symbol.

    `attempts` and `throttled` are filled in by the client before the problem leaves
    it, so the run can report how many calls the symbol cost.
    """

    retryable = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = 0
        self.throttled = 0


class InvalidRequest(ApiProblem):
    """`Error Message` about the request itself, typically an unknown symbol."""


class EmptyAnswer(ApiProblem):
    """`{}`: some API paths answer an unknown symbol this way."""


class PremiumEndpoint(ApiProblem):
    """The endpoint is premium-only for this key."""


class PremiumFullOutput(ApiProblem):
    """`outputsize=full` is premium-only for this key (the client falls back to compact)."""


class UnexpectedInformation(ApiProblem):
    """An `Information`/`Note` body whose wording we do not recognise."""


class MalformedSeries(ApiProblem):
    """The body decoded but its shape is wrong (dates, numbers, symbol, fields)."""


class MalformedSplits(ApiProblem):
    """A SPLITS answer whose shape or values are wrong; the reason names the symbol and field."""


class CallBudgetSpent(ApiProblem):
    """The day's call budget (API_DAILY_CALL_BUDGET) has no call left: deferred to tomorrow."""


class CallCountUnavailable(ApiProblem):
    """The day's call count could not be read or updated, so no call is made (fail closed)."""


class KeyRejected(ApiProblem):
    """The key is invalid, missing or the demo key: no further call can succeed."""


class DailyQuotaSpent(ApiProblem):
    """The key's daily request quota is used up: stop calling for the rest of the run."""


class BurstThrottled(ApiProblem):
    """Too many calls too fast: wait and retry."""

    retryable = True


class TransportFailure(ApiProblem):
    """Timeout, connection reset, 5xx, or a body that is not JSON/CSV or is truncated."""

    retryable = True


class Unreachable(TransportFailure):
    """The connection was refused or the host name did not resolve: retried once only, and
    a few symbols in a row of it stop the run (the API is down, or the URL is wrong)."""


class OutOfTime(ApiProblem):
    """The Lambda time budget does not allow the next call (or the next retry)."""
