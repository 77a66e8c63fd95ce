"""One ingestion run: every symbol fetched, checked and landed, or reported with a reason.

`run_ingestion` is what the Lambda handler and the local CLI call. A symbol's problem
never stops the others, except where no later call could succeed: a rejected key
stops the run, a spent daily quota or an exhausted time budget skips the rest.

Only final bars land: a bar whose NYSE session had not closed when it was asked for
(today's before the close, or one dated after today in New York) is left out, whatever
the answer's format or order; the next run brings it final.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aws_lambda_powertools import Logger

from runtime.ingest.alphavantage import AlphaVantageClient, RetryPolicy
from runtime.ingest.api_key import forget_cached_key, resolve_api_key
from runtime.ingest.bars import Bar
from runtime.ingest.errors import (
    ApiKeyRejected,
    ApiProblem,
    ConfigurationError,
    DailyQuotaSpent,
    IngestionFailed,
    KeyRejected,
    OutOfTime,
    SinkError,
    Unreachable,
)
from runtime.ingest.pacing import Clock, RequestPacer, SystemClock
from runtime.ingest.settings import SERVICE_NAME, SMOKE_PREFIX, RunPlan, Settings, plan_run
from runtime.ingest.sinks import FirehoseSink, LocalSink, S3Sink, Sink
from runtime.market_calendar import new_york_time, session_close, session_has_closed

# Seconds kept free at the end of a Lambda run for the last write, the summary and
# the metrics flush, so the function returns instead of being killed mid-write.
SAFETY_MARGIN_SECONDS = 10.0

NOT_REACHED_IN_TIME = "not reached: the run's time budget ran out before this symbol"
#: Symbols in a row the API could not be reached for before the run stops calling it.
UNREACHABLE_SYMBOLS_TO_STOP = 3

SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"

logger = Logger(service=SERVICE_NAME, child=True)


@dataclass(frozen=True)
class SymbolOutcome:
    """What happened to one symbol in a run."""

    symbol: str
    status: str
    reason: str | None = None
    rows: int = 0
    location: str | None = None
    attempts: int = 0
    throttled: int = 0
    fell_back_to_compact: bool = False
    #: Trade dates left out because their session had not closed yet (today in New York).
    left_out_open: tuple[date, ...] = ()
    #: Trade dates left out because they are after today in New York.
    left_out_future: tuple[date, ...] = ()
    #: The API could not be reached (connection refused, unknown host).
    unreachable: bool = False

    @property
    def dropped_moving_bar(self) -> bool:
        return bool(self.left_out_open or self.left_out_future)


def run_ingestion(
    settings: Settings,
    event: Mapping[str, Any] | None,
    remaining_ms: Callable[[], int],
    on_symbol: Callable[[SymbolOutcome], None] | None = None,
    *,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Ingest the planned symbols; return the run summary.

    Returns `{"ingest_date", "succeeded", "failed", "skipped", "rows"}`. Raises
    ConfigurationError for a bad event, ApiKeyUnavailable when the secret cannot be
    read, and IngestionFailed (carrying that same summary) when the API rejected
    the key or no symbol succeeded. `remaining_ms` is the Lambda context's
    `get_remaining_time_in_millis`; `on_symbol` sees each outcome as it is decided.
    `clock` is the run's time: pacing, the landing time and the market clock's "now".
    """
    clock = clock or SystemClock()
    started = clock.now()
    plan = plan_run(settings, event, started.date())
    api_key = resolve_api_key(settings)
    client = _build_client(settings, api_key, clock)
    sink = _build_sink(settings, clock, smoke=plan.smoke)
    run = _Run(plan, client, sink, clock, started, remaining_ms)
    logger.info(
        "ingestion started",
        extra={
            "ingest_date": plan.ingest_date.isoformat(),
            "symbols": list(plan.symbols),
            "outputsize": plan.output_size,
            "datatype": plan.datatype,
            "sink": settings.sink,
            "smoke": plan.smoke,
        },
    )

    outcomes: list[SymbolOutcome] = []
    for outcome in _in_order(run.ingest, plan.symbols, settings.concurrency):
        outcomes.append(outcome)
        if on_symbol is not None:
            on_symbol(outcome)
    result = _summarize(plan, outcomes)
    logger.info("ingestion finished", extra={"result": result, "calls": call_counts(outcomes)})

    if run.key_rejection is not None:
        if settings.secret_arn:
            forget_cached_key()
        raise ApiKeyRejected(
            f"Alpha Vantage rejected the API key from {settings.api_key_source}: "
            f"{run.key_rejection}",
            result,
        )
    if not result[SUCCEEDED]:
        details = "; ".join(f"{o.symbol}: {o.reason}" for o in outcomes)
        raise IngestionFailed(f"no symbol succeeded ({details})", result)
    return result


def call_counts(outcomes: Iterable[SymbolOutcome]) -> dict[str, int]:
    """What the symbols cost: API calls made, answers throttled, calls that were retries."""
    outcomes = list(outcomes)
    return {
        "calls": sum(o.attempts for o in outcomes),
        "throttled": sum(o.throttled for o in outcomes),
        "retried": sum(max(o.attempts - 1, 0) for o in outcomes),
    }


def _summarize(plan: RunPlan, outcomes: Iterable[SymbolOutcome]) -> dict[str, Any]:
    """The run's return value, symbols in plan order; a smoke run adds where it landed."""
    outcomes = list(outcomes)
    result: dict[str, Any] = {
        "ingest_date": plan.ingest_date.isoformat(),
        SUCCEEDED: [o.symbol for o in outcomes if o.status == SUCCEEDED],
        FAILED: {o.symbol: o.reason for o in outcomes if o.status == FAILED},
        SKIPPED: {o.symbol: o.reason for o in outcomes if o.status == SKIPPED},
        "rows": sum(o.rows for o in outcomes),
    }
    if plan.smoke:
        result["smoke"] = True
        result["objects"] = [o.location for o in outcomes if o.location]
    return result


class _Run:
    """The state symbols share within one run: the client, the sink and why to stop."""

    def __init__(
        self,
        plan: RunPlan,
        client: AlphaVantageClient,
        sink: Sink,
        clock: Clock,
        landed_at: datetime,
        remaining_ms: Callable[[], int],
    ) -> None:
        self.plan = plan
        self.client = client
        self.sink = sink
        self.clock = clock
        self.landed_at = landed_at
        self.remaining_ms = remaining_ms
        self.key_rejection: str | None = None
        self._stop_reason: str | None = None
        self._unreachable_in_a_row = 0
        self._lock = threading.Lock()

    def time_left(self) -> float:
        return self.remaining_ms() / 1000 - SAFETY_MARGIN_SECONDS

    def stop(self, reason: str) -> None:
        with self._lock:
            self._stop_reason = self._stop_reason or reason

    def ingest(self, symbol: str) -> SymbolOutcome:
        outcome = self._ingest(symbol)
        if outcome.status != SKIPPED:
            self._count_reachability(outcome)
        log = logger.info if outcome.status == SUCCEEDED else logger.warning
        log(f"symbol {outcome.status}", extra={"symbol": symbol, "outcome": vars(outcome)})
        return outcome

    def _count_reachability(self, outcome: SymbolOutcome) -> None:
        """Stop calling after UNREACHABLE_SYMBOLS_TO_STOP symbols in a row found the API
        unreachable: it is down (or the URL is wrong), and every further symbol would wait
        for its own retries."""
        with self._lock:
            if not outcome.unreachable:
                self._unreachable_in_a_row = 0
                return
            self._unreachable_in_a_row += 1
            count = self._unreachable_in_a_row
        if count >= UNREACHABLE_SYMBOLS_TO_STOP:
            self.stop(f"not attempted: the API could not be reached for {count} symbols in a row")

    def _ingest(self, symbol: str) -> SymbolOutcome:
        with self._lock:
            stop_reason = self._stop_reason
        if stop_reason:
            return SymbolOutcome(symbol, SKIPPED, stop_reason)
        # Taken before the call and its pacing wait: the API computes its answer later, so
        # a bar whose session had closed by this moment is final in that answer.
        asked_at = self.clock.now()
        try:
            fetched = self.client.fetch_daily(
                symbol,
                output_size=self.plan.output_size,
                datatype=self.plan.datatype,
                time_left=self.time_left,
            )
        except OutOfTime as problem:
            self.stop(NOT_REACHED_IN_TIME)
            if problem.attempts == 0:
                return SymbolOutcome(symbol, SKIPPED, NOT_REACHED_IN_TIME)
            return _from_problem(symbol, FAILED, problem)
        except DailyQuotaSpent as problem:
            self.stop(f"not attempted: {problem.reason}")
            return _from_problem(symbol, SKIPPED, problem)
        except KeyRejected as problem:
            with self._lock:
                self.key_rejection = self.key_rejection or problem.reason
            self.stop("not attempted: the API key was rejected")
            return _from_problem(symbol, FAILED, problem)
        except ApiProblem as problem:
            return _from_problem(symbol, FAILED, problem)

        bars, moving = _final_bars(symbol, fetched.series.bars, asked_at)
        today_in_new_york = new_york_time(asked_at).date()
        common = {
            "attempts": fetched.attempts,
            "throttled": fetched.throttled,
            "fell_back_to_compact": fetched.output_size != self.plan.output_size,
            "left_out_open": tuple(day for day in moving if day <= today_in_new_york),
            "left_out_future": tuple(day for day in moving if day > today_in_new_york),
        }
        if not bars:
            # An empty object says nothing, and a symbol that landed nothing did not succeed.
            return SymbolOutcome(symbol, FAILED, "the answer held no final bars", **common)
        try:
            location = self.sink.write(symbol, self.plan.ingest_date, bars, self.landed_at)
        except SinkError as error:
            return SymbolOutcome(symbol, FAILED, str(error), **common)
        return SymbolOutcome(symbol, SUCCEEDED, None, len(bars), location, **common)


def _final_bars(
    symbol: str, bars: tuple[Bar, ...], asked_at: datetime
) -> tuple[tuple[Bar, ...], list[date]]:
    """The bars whose session had closed at `asked_at`, and the (logged) left-out dates."""
    final: list[Bar] = []
    moving: list[date] = []
    for bar in bars:
        if session_has_closed(bar.trade_date, asked_at):
            final.append(bar)
        else:
            moving.append(bar.trade_date)
    if moving:
        logger.warning(
            "left out bars whose session had not closed: they may still change",
            extra={
                "symbol": symbol,
                "trade_dates": sorted(day.isoformat() for day in moving),
                "asked_at_new_york": new_york_time(asked_at).isoformat(),
                "session_close": session_close(min(moving)).isoformat(),
            },
        )
    return tuple(final), sorted(moving)


def _from_problem(symbol: str, status: str, problem: ApiProblem) -> SymbolOutcome:
    return SymbolOutcome(
        symbol,
        status,
        problem.reason,
        attempts=problem.attempts,
        throttled=problem.throttled,
        unreachable=isinstance(problem, Unreachable),
    )


def _in_order(
    ingest: Callable[[str], SymbolOutcome], symbols: tuple[str, ...], workers: int
) -> Iterable[SymbolOutcome]:
    if workers == 1:
        yield from map(ingest, symbols)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
        yield from pool.map(ingest, symbols)


def _build_client(settings: Settings, api_key: str, clock: Clock) -> AlphaVantageClient:
    period = settings.rate_period_seconds
    pacer = RequestPacer(
        settings.calls_per_minute,
        period,
        clock=clock,
        min_interval=settings.min_call_interval_seconds,
    )
    retry = RetryPolicy(throttle_backoff=period / settings.calls_per_minute, max_backoff=period)
    return AlphaVantageClient(
        settings.api_url,
        api_key,
        pacer=pacer,
        clock=clock,
        timeout=settings.request_timeout_seconds,
        retry=retry,
    )


def _build_sink(settings: Settings, clock: Clock, *, smoke: bool = False) -> Sink:
    if smoke:
        # Whatever the configured sink: a smoke object goes to the lake's own smoke prefix.
        if settings.lake_dir:
            return LocalSink(settings.lake_dir, SMOKE_PREFIX)
        if settings.data_bucket:
            return S3Sink(settings.data_bucket, SMOKE_PREFIX)
        raise ConfigurationError("a smoke run lands in DATA_BUCKET, which is not set")
    # Settings.from_env guarantees these; a hand-built Settings may not.
    if settings.sink == "firehose" and settings.firehose_stream_name:
        return FirehoseSink(settings.firehose_stream_name, sleep=clock.sleep)
    if settings.sink == "local" and settings.lake_dir:
        return LocalSink(settings.lake_dir, settings.raw_prefix)
    if settings.sink == "s3" and settings.data_bucket:
        return S3Sink(settings.data_bucket, settings.raw_prefix)
    raise ConfigurationError(f"sink {settings.sink!r} lacks its destination setting")
