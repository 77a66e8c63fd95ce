"""One ingestion run: every symbol fetched, checked and landed, or reported with a reason.

`run_ingestion` is what the Lambda handler and the local CLI call. A symbol's problem
never stops the others, except where no later call could succeed: a rejected key
stops the run, a spent daily quota or an exhausted time budget skips the rest.

After the prices, the split records that are due (runtime/ingest/splits.py) are fetched and
landed under `raw_splits/`; a split record that fails, is refused or does not fit the day's
call budget is one warning, and never fails the run or touches its prices. Every request
counts against the day's call budget (runtime/ingest/call_budget.py): prices take it
first, and what does not fit is deferred to the next day.

Only final bars land: a bar whose NYSE session had not closed when it was asked for
(today's before the close, or one dated after today in New York) is left out, whatever
the answer's format or order; the next run brings it final.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Logger

from runtime.ingest.alphavantage import AlphaVantageClient, RetryPolicy
from runtime.ingest.api_key import forget_cached_key, resolve_api_key
from runtime.ingest.bars import Bar
from runtime.ingest.call_budget import CallBudget
from runtime.ingest.errors import (
    ApiKeyRejected,
    ApiProblem,
    CallBudgetSpent,
    ConfigurationError,
    DailyQuotaSpent,
    IngestionFailed,
    KeyRejected,
    OutOfTime,
    SinkError,
    Unreachable,
)
from runtime.ingest.ingest_state import LocalStateStore, S3StateStore, StateError, StateStore
from runtime.ingest.pacing import Clock, RequestPacer, SystemClock
from runtime.ingest.settings import SERVICE_NAME, SMOKE_PREFIX, RunPlan, Settings, plan_run
from runtime.ingest.sinks import FirehoseSink, LocalSink, ObjectSink, S3Sink, Sink, land_splits
from runtime.ingest.splits import DueRecord, records_due
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
LANDED = "landed"
DEFERRED = "deferred"
#: The state document holding the day each symbol's split record was last fetched.
SPLITS_REFRESHED = "splits_refreshed.json"
#: The local lake's directory for the state documents (S3: ingest_state/ in the bucket).
LOCAL_STATE_DIR = "ingest_state"

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
    #: Not fetched: the day's call budget had no call left for it.
    deferred: bool = False

    @property
    def dropped_moving_bar(self) -> bool:
        return bool(self.left_out_open or self.left_out_future)


@dataclass(frozen=True)
class SplitsOutcome:
    """What happened to one symbol's split record in a run: landed, failed or deferred."""

    symbol: str
    status: str
    reason: str
    splits: int = 0
    location: str | None = None
    attempts: int = 0
    throttled: int = 0


def run_ingestion(
    settings: Settings,
    event: Mapping[str, Any] | None,
    remaining_ms: Callable[[], int],
    on_symbol: Callable[[SymbolOutcome], None] | None = None,
    *,
    clock: Clock | None = None,
    calls_day: date | None = None,
    on_split_record: Callable[[SplitsOutcome], None] | None = None,
) -> dict[str, Any]:
    """Ingest the planned symbols and the split records due; return the run summary.

    Returns `{"ingest_date", "succeeded", "failed", "skipped", "rows", "splits",
    "calls_deferred", "call_budget"}` (see `_summarize`). Raises
    ConfigurationError for a bad event, ApiKeyUnavailable when the secret cannot be
    read, and IngestionFailed (carrying that same summary) when the API rejected
    the key or no symbol succeeded. `remaining_ms` is the Lambda context's
    `get_remaining_time_in_millis`; `on_symbol` sees each outcome as it is decided.
    `clock` is the run's time: pacing, the landing time and the market clock's "now".
    `on_split_record` sees each split record's outcome. `calls_day` is the day the call
    budget and the split refresh cycle count in (default: the UTC date the run started; a
    local run passes its `--as-of`).
    """
    clock = clock or SystemClock()
    started = clock.now()
    plan = plan_run(settings, event, started.date())
    api_key = resolve_api_key(settings)
    store = _build_state_store(settings, clock)
    budget = CallBudget(store, calls_day or started.astimezone(UTC).date(), settings.call_budget)
    client = _build_client(settings, api_key, clock, budget)
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
            "call_budget": settings.call_budget,
            "calls_day": budget.day.isoformat(),
        },
    )

    outcomes: list[SymbolOutcome] = []
    for outcome in _in_order(run.ingest, plan.symbols, settings.concurrency):
        outcomes.append(outcome)
        if on_symbol is not None:
            on_symbol(outcome)
    split_outcomes: list[SplitsOutcome] = []
    # A smoke run lands its one symbol under smoke/ and nothing else: no split record.
    if not plan.smoke:
        records = _SplitRecords(run, store, _splits_sink(settings, sink), budget.day)
        split_outcomes = records.fetch(settings.splits_refresh_days, on_split_record)
    result = _summarize(plan, outcomes, split_outcomes, budget)
    logger.info(
        "ingestion finished",
        extra={"result": result, "calls": call_counts([*outcomes, *split_outcomes])},
    )

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


def call_counts(outcomes: Iterable[SymbolOutcome | SplitsOutcome]) -> dict[str, int]:
    """What the fetches cost: API calls made, answers throttled, calls that were retries."""
    outcomes = list(outcomes)
    return {
        "calls": sum(o.attempts for o in outcomes),
        "throttled": sum(o.throttled for o in outcomes),
        "retried": sum(max(o.attempts - 1, 0) for o in outcomes),
    }


def _summarize(
    plan: RunPlan,
    outcomes: Iterable[SymbolOutcome],
    split_outcomes: Iterable[SplitsOutcome],
    budget: CallBudget,
) -> dict[str, Any]:
    """The run's return value, symbols in plan order. `splits` says what became of each
    split record fetched or due; `calls_deferred` counts the fetches that did not fit the
    day's call budget (prices and split records); `call_budget` is the day's count."""
    outcomes = list(outcomes)
    split_outcomes = list(split_outcomes)
    result: dict[str, Any] = {
        "ingest_date": plan.ingest_date.isoformat(),
        SUCCEEDED: [o.symbol for o in outcomes if o.status == SUCCEEDED],
        FAILED: {o.symbol: o.reason for o in outcomes if o.status == FAILED},
        SKIPPED: {o.symbol: o.reason for o in outcomes if o.status == SKIPPED},
        "rows": sum(o.rows for o in outcomes),
        "splits": {
            status: {o.symbol: o.reason for o in split_outcomes if o.status == status}
            for status in (LANDED, FAILED, DEFERRED)
        },
        "calls_deferred": sum(o.deferred for o in outcomes)
        + sum(o.status == DEFERRED for o in split_outcomes),
        "call_budget": {
            "day": budget.day.isoformat(),
            "limit": budget.limit,
            "used": budget.used,
        },
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
        #: The final bars each symbol landed in this run.
        self.landed: dict[str, tuple[Bar, ...]] = {}
        self._stop_reason: str | None = None
        self._unreachable_in_a_row = 0
        self._lock = threading.Lock()

    def time_left(self) -> float:
        return self.remaining_ms() / 1000 - SAFETY_MARGIN_SECONDS

    def stop(self, reason: str) -> None:
        with self._lock:
            self._stop_reason = self._stop_reason or reason

    @property
    def stop_reason(self) -> str | None:
        with self._lock:
            return self._stop_reason

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
            deferred = stop_reason.startswith("deferred:")
            return SymbolOutcome(symbol, SKIPPED, stop_reason, deferred=deferred)
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
        except CallBudgetSpent as problem:
            problem.reason = f"deferred: {problem.reason}"
            self.stop(problem.reason)
            return replace(_from_problem(symbol, SKIPPED, problem), deferred=True)
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
        with self._lock:
            self.landed[symbol] = bars
        return SymbolOutcome(symbol, SUCCEEDED, None, len(bars), location, **common)


class _SplitRecords:
    """The split records due after the run's prices: fetched one at a time, landed whole.

    Nothing here fails the run: a record that fails, is refused or is not reached is one
    warning line, and the refresh cycle asks for it again on a later day.
    """

    def __init__(self, run: _Run, store: StateStore, sink: ObjectSink, today: date) -> None:
        self.run = run
        self.store = store
        self.sink = sink
        self.today = today

    def fetch(
        self, refresh_days: int, on_record: Callable[[SplitsOutcome], None] | None
    ) -> list[SplitsOutcome]:
        if not self.run.landed or self.run.key_rejection:
            return []
        try:
            refreshed = {
                symbol: date.fromisoformat(day)
                for symbol, day in self.store.read(SPLITS_REFRESHED).items()
            }
        except (StateError, AttributeError, TypeError, ValueError) as error:
            # Which records are due is unknown: each landed symbol says so, none is fetched.
            reason = (
                f"not fetched: the days split records were last fetched are unreadable ({error})"
            )
            due = [DueRecord(symbol, reason) for symbol in self.run.landed]
            fetch = False
        else:
            due = records_due(
                self.run.plan.symbols, self.run.landed, refreshed, self.today, refresh_days
            )
            fetch = True
        outcomes = []
        for item in due:
            if fetch:
                outcome = self._record(item.symbol, item.reason)
            else:
                outcome = SplitsOutcome(item.symbol, FAILED, item.reason)
            log = logger.info if outcome.status == LANDED else logger.warning
            log(f"split record {outcome.status}", extra={"outcome": vars(outcome)})
            outcomes.append(outcome)
            if on_record is not None:
                on_record(outcome)
        return outcomes

    def _record(self, symbol: str, why: str) -> SplitsOutcome:
        stop_reason = self.run.stop_reason
        if stop_reason:
            return SplitsOutcome(symbol, DEFERRED, stop_reason)
        try:
            fetched = self.run.client.fetch_splits(symbol, time_left=self.run.time_left)
        except (CallBudgetSpent, DailyQuotaSpent, OutOfTime) as problem:
            self.run.stop(f"deferred: {problem.reason}")
            return SplitsOutcome(
                symbol, DEFERRED, f"deferred: {problem.reason}", 0, None,
                problem.attempts, problem.throttled,
            )  # fmt: skip
        except ApiProblem as problem:
            return SplitsOutcome(
                symbol, FAILED, problem.reason, 0, None, problem.attempts, problem.throttled
            )
        cost = {"attempts": fetched.attempts, "throttled": fetched.throttled}
        try:
            location = land_splits(
                self.sink, fetched.record, self.run.plan.ingest_date, self.run.landed_at
            )
        except SinkError as error:
            return SplitsOutcome(symbol, FAILED, str(error), **cost)
        try:
            self.store.update(SPLITS_REFRESHED, self._refreshed(symbol))
        except StateError as error:
            logger.warning(
                "could not record when the split record was fetched; it is asked for again",
                extra={"symbol": symbol, "reason": str(error)},
            )
        count = len(fetched.record.splits)
        return SplitsOutcome(symbol, LANDED, f"{why}: {count} splits", count, location, **cost)

    def _refreshed(self, symbol: str):
        def change(document: dict[str, str]) -> dict[str, str]:
            return {**document, symbol: self.today.isoformat()}

        return change


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


def _build_client(
    settings: Settings, api_key: str, clock: Clock, budget: CallBudget
) -> AlphaVantageClient:
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
        budget=budget,
    )


def _build_state_store(settings: Settings, clock: Clock) -> StateStore:
    """The run's shared state: the lake locally, the data bucket (S3 and Firehose sinks)."""
    if settings.sink == "local" and settings.lake_dir:
        return LocalStateStore(settings.lake_dir / LOCAL_STATE_DIR)
    if settings.data_bucket:
        return S3StateStore(settings.data_bucket, sleep=clock.sleep)
    raise ConfigurationError(f"sink {settings.sink!r} lacks its destination setting")


def _splits_sink(settings: Settings, sink: Sink) -> ObjectSink:
    """Split records land as objects: in the bucket when the bars go through Firehose."""
    if isinstance(sink, LocalSink | S3Sink):
        return sink
    return S3Sink(settings.data_bucket or "", settings.raw_prefix)


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
