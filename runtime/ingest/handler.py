"""Lambda entry point `runtime.ingest.handler.handler`: Alpha Vantage to the raw zone.

A thin wrapper around `run_ingestion` (which the local CLI calls directly): it
reads the settings from the environment, gives the run the Lambda's remaining time,
and reports the run as EMF metrics in the log (one blob per invocation, no API
call). It raises, so the Lambda errors and its alarm fires, on invalid
configuration, an unreadable or rejected key, or when no symbol succeeded; a
partial failure returns normally with `PartialFailure` = 1. A split record that fails or is
deferred never raises: it is a warning and counts in `SplitRecordsFailed` or `CallsDeferred`.

A smoke run (event `{"smoke": true, "symbols": ["<one>"]}`, `make smoke`) lands its symbol
under `smoke/` and is no run of the pipeline: it records no metric and raises nothing a
user caused, so it sets off no alarm; it returns `{"smoke": true, "error": "..."}` instead.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from runtime.ingest.errors import ConfigurationError, IngestError, IngestionFailed
from runtime.ingest.pacing import SystemClock
from runtime.ingest.run import (
    DEFERRED,
    FAILED,
    LANDED,
    SKIPPED,
    SUCCEEDED,
    SplitsOutcome,
    SymbolOutcome,
    run_ingestion,
)
from runtime.ingest.settings import SERVICE_NAME, Settings, is_smoke_event

# The local CLI imports the run and its types from here, next to the Lambda entry point.
__all__ = [
    "ConfigurationError",
    "IngestionFailed",
    "Settings",
    "SymbolOutcome",
    "handler",
    "run_ingestion",
]

METRICS_NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
DEFAULT_METRICS_NAMESPACE = "stockpipe"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(
    namespace=os.environ.get(METRICS_NAMESPACE_ENV) or DEFAULT_METRICS_NAMESPACE,
    service=SERVICE_NAME,
)
clock = SystemClock()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    """Run one ingestion; see the module docstring for when it raises."""
    if is_smoke_event(event):
        return _smoke(event, context)
    outcomes: list[SymbolOutcome] = []
    records: list[SplitsOutcome] = []
    try:
        settings = Settings.from_env(os.environ)
        result = run_ingestion(
            settings,
            event,
            context.get_remaining_time_in_millis,
            outcomes.append,
            clock=clock,
            on_split_record=records.append,
        )
    except ConfigurationError as error:
        # A user's mistake: the message says what to fix, a traceback would not help.
        logger.error(str(error))
        _record_metrics(outcomes, records, run_failed=True)
        raise
    except IngestError:
        logger.exception("ingestion failed")
        _record_metrics(outcomes, records, run_failed=True)
        raise
    except Exception as error:
        logger.exception("ingestion failed unexpectedly")
        _record_metrics(outcomes, records, run_failed=True)
        raise IngestError(f"ingestion failed unexpectedly: {type(error).__name__}") from error
    _record_metrics(outcomes, records, run_failed=False)
    return result


def _smoke(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        settings = Settings.from_env(os.environ)
        return run_ingestion(settings, event, context.get_remaining_time_in_millis, clock=clock)
    except IngestError as error:
        logger.error(f"smoke run failed: {error}")
        return {"smoke": True, "error": str(error)}


def _record_metrics(
    outcomes: list[SymbolOutcome], records: list[SplitsOutcome], *, run_failed: bool
) -> None:
    counts = {
        status: sum(o.status == status for o in outcomes) for status in (SUCCEEDED, FAILED, SKIPPED)
    }
    partial = counts[SUCCEEDED] > 0 and (counts[FAILED] + counts[SKIPPED]) > 0
    values = {
        "SymbolsSucceeded": counts[SUCCEEDED],
        "SymbolsFailed": counts[FAILED],
        "SymbolsSkipped": counts[SKIPPED],
        "RowsWritten": sum(o.rows for o in outcomes),
        "ApiCalls": sum(o.attempts for o in [*outcomes, *records]),
        "ThrottledResponses": sum(o.throttled for o in [*outcomes, *records]),
        # Fetches the day's call budget had no room for (prices and split records).
        "CallsDeferred": sum(o.deferred for o in outcomes)
        + sum(r.status == DEFERRED for r in records),
        "SplitRecordsLanded": sum(r.status == LANDED for r in records),
        "SplitRecordsFailed": sum(r.status == FAILED for r in records),
        "OutputSizeFallbacks": sum(o.fell_back_to_compact for o in outcomes),
        "MovingBarsDropped": sum(o.dropped_moving_bar for o in outcomes),
        "PartialFailure": int(partial and not run_failed),
        "RunFailed": int(run_failed),
    }
    for name, value in values.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
