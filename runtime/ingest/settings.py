"""Configuration of an ingestion run: environment variables, then per-run event overrides.

`Settings.from_env` reads the environment once and reports every problem in one
message; `plan_run` applies the event (symbols, outputsize, datatype, ingest_date)
on top, because an explicit per-run choice beats the deployed default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from runtime.ingest.errors import ConfigurationError

# Logger/metrics service name shared by the ingestion modules.
SERVICE_NAME = "stockpipe-ingest"

SYMBOLS_ENV = "SYMBOLS"
API_KEY_ENV = "ALPHAVANTAGE_API_KEY"
SECRET_ARN_ENV = "ALPHAVANTAGE_SECRET_ARN"  # noqa: S105 (a variable name)
#: Set by the Lambda runtime in every function's environment.
LAMBDA_FUNCTION_ENV = "AWS_LAMBDA_FUNCTION_NAME"
API_URL_ENV = "ALPHAVANTAGE_URL"
DATA_BUCKET_ENV = "DATA_BUCKET"
RAW_PREFIX_ENV = "RAW_PREFIX"
SINK_ENV = "SINK"
FIREHOSE_STREAM_ENV = "FIREHOSE_STREAM_NAME"
LAKE_DIR_ENV = "LAKE_DIR"
CALLS_PER_MINUTE_ENV = "CALLS_PER_MINUTE"
OUTPUT_SIZE_ENV = "OUTPUT_SIZE"
DATATYPE_ENV = "DATATYPE"
CONCURRENCY_ENV = "CONCURRENCY"
MIN_CALL_INTERVAL_ENV = "MIN_CALL_INTERVAL_SECONDS"
REQUEST_TIMEOUT_ENV = "REQUEST_TIMEOUT_SECONDS"
CALL_BUDGET_ENV = "API_DAILY_CALL_BUDGET"
SPLITS_REFRESH_DAYS_ENV = "SPLITS_REFRESH_DAYS"

DEFAULT_SYMBOLS = ("AMD", "NVDA", "INTC", "MU", "QCOM", "TXN", "AMAT", "AVGO", "LSCC", "KLAC")
DEFAULT_API_URL = "https://www.alphavantage.co/query"
DEFAULT_RAW_PREFIX = "raw/"
#: Where a smoke run (event field `smoke`: true, `make smoke`) lands its one symbol: apart
#: from the raw zone, whose layout the audit guards and whose objects the workflow consumes.
SMOKE_PREFIX = "smoke/"
DEFAULT_CALLS_PER_MINUTE = 5
DEFAULT_REQUEST_TIMEOUT_SECONDS = 30.0
# A free key's requests per day, over every endpoint (alphavantage.md, Limits); 0: none.
DEFAULT_CALL_BUDGET = 25
DEFAULT_SPLITS_REFRESH_DAYS = 7
# Free keys are also held to about one request per second (alphavantage.md, Limits);
# budgets above 60 per minute are spaced evenly instead.
FREE_KEY_MIN_INTERVAL_SECONDS = 1.0

SINKS = ("s3", "firehose", "local")
OUTPUT_SIZES = ("compact", "full")
DATATYPES = ("json", "csv")

# A ticker as Alpha Vantage and the lake accept it (runtime/wap/config.py keeps the same rule).
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,11}$")


@dataclass(frozen=True)
class Settings:
    """Everything an ingestion run needs to know, validated."""

    symbols: tuple[str, ...]
    api_key: str | None = field(default=None, repr=False)
    secret_arn: str | None = None
    api_url: str = DEFAULT_API_URL
    sink: str = "s3"
    data_bucket: str | None = None
    raw_prefix: str = DEFAULT_RAW_PREFIX
    firehose_stream_name: str | None = None
    lake_dir: Path | None = None
    calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE
    output_size: str = "compact"
    datatype: str = "json"
    concurrency: int = 1
    min_call_interval_seconds: float = FREE_KEY_MIN_INTERVAL_SECONDS
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    #: API calls all of a UTC day's runs may make together; 0: no budget.
    call_budget: int = DEFAULT_CALL_BUDGET
    #: The oldest a symbol's split record may get before it is fetched again.
    splits_refresh_days: int = DEFAULT_SPLITS_REFRESH_DAYS
    # The window CALLS_PER_MINUTE refers to. Only benchmarks change it, to run a
    # minute-scale budget in seconds.
    rate_period_seconds: float = 60.0

    @property
    def api_key_source(self) -> str:
        """Where the key comes from, for messages (never the key itself)."""
        if self.secret_arn:
            return f"secret {self.secret_arn}"
        return API_KEY_ENV

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate the environment; raise ConfigurationError naming every problem."""
        problems: list[str] = []
        env = {name: value.strip() for name, value in environ.items() if value.strip()}

        symbols = DEFAULT_SYMBOLS
        if SYMBOLS_ENV in env:
            symbols = _parse_symbols(env[SYMBOLS_ENV].split(","), SYMBOLS_ENV, problems)

        api_key = env.get(API_KEY_ENV)
        secret_arn = env.get(SECRET_ARN_ENV)
        if api_key and LAMBDA_FUNCTION_ENV in env:
            # A Lambda's environment is readable by anyone who may read its configuration.
            problems.append(
                f"{API_KEY_ENV} is set in Lambda function {env[LAMBDA_FUNCTION_ENV]}: a "
                f"plaintext key does not belong in a Lambda's environment; unset it and set "
                f"{SECRET_ARN_ENV} to the Secrets Manager secret holding the key"
            )
        elif bool(api_key) == bool(secret_arn):
            problems.append(
                f"exactly one of {API_KEY_ENV} (the key) or {SECRET_ARN_ENV} "
                f"(a Secrets Manager secret holding it) must be set, "
                f"{'both are' if api_key else 'neither is'}"
            )

        api_url = env.get(API_URL_ENV, DEFAULT_API_URL)
        parsed_url = urlparse(api_url)
        if parsed_url.scheme not in ("http", "https") or not parsed_url.netloc:
            problems.append(f"{API_URL_ENV}={api_url!r} is not an http(s) URL")

        sink = env.get(SINK_ENV, "s3").lower()
        if sink not in SINKS:
            problems.append(f"{SINK_ENV}={sink!r} must be one of {', '.join(SINKS)}")
        # With Firehose, split records and the day's call count still live in the bucket.
        required_for_sink = {
            "s3": (DATA_BUCKET_ENV,),
            "firehose": (FIREHOSE_STREAM_ENV, DATA_BUCKET_ENV),
            "local": (LAKE_DIR_ENV,),
        }.get(sink, ())
        for required in required_for_sink:
            if required not in env:
                problems.append(f"{required} is required when {SINK_ENV}={sink}")

        raw_prefix = environ.get(RAW_PREFIX_ENV, DEFAULT_RAW_PREFIX).strip()
        if raw_prefix.startswith("/"):
            problems.append(f"{RAW_PREFIX_ENV}={raw_prefix!r} must not start with '/'")
        if raw_prefix and not raw_prefix.endswith("/"):
            raw_prefix += "/"

        calls_per_minute = _positive_int(
            env, CALLS_PER_MINUTE_ENV, DEFAULT_CALLS_PER_MINUTE, problems
        )
        concurrency = _positive_int(env, CONCURRENCY_ENV, 1, problems)
        if concurrency > calls_per_minute:
            problems.append(
                f"{CONCURRENCY_ENV}={concurrency} is more than {CALLS_PER_MINUTE_ENV}="
                f"{calls_per_minute}: extra workers could only wait"
            )
        default_interval = min(FREE_KEY_MIN_INTERVAL_SECONDS, 60.0 / calls_per_minute)
        min_interval = _non_negative_float(env, MIN_CALL_INTERVAL_ENV, default_interval, problems)
        timeout = _non_negative_float(
            env, REQUEST_TIMEOUT_ENV, DEFAULT_REQUEST_TIMEOUT_SECONDS, problems
        )
        if REQUEST_TIMEOUT_ENV in env and timeout == 0:
            problems.append(f"{REQUEST_TIMEOUT_ENV} must be more than 0 seconds")

        call_budget = _whole_number(env, CALL_BUDGET_ENV, DEFAULT_CALL_BUDGET, problems)
        refresh_days = _positive_int(
            env, SPLITS_REFRESH_DAYS_ENV, DEFAULT_SPLITS_REFRESH_DAYS, problems
        )

        output_size = _choice(env, OUTPUT_SIZE_ENV, OUTPUT_SIZES, problems)
        datatype = _choice(env, DATATYPE_ENV, DATATYPES, problems)

        if problems:
            raise ConfigurationError("invalid ingestion configuration: " + "; ".join(problems))
        return cls(
            symbols=symbols,
            api_key=api_key,
            secret_arn=secret_arn,
            api_url=api_url,
            sink=sink,
            data_bucket=env.get(DATA_BUCKET_ENV),
            raw_prefix=raw_prefix,
            firehose_stream_name=env.get(FIREHOSE_STREAM_ENV),
            lake_dir=Path(env[LAKE_DIR_ENV]) if LAKE_DIR_ENV in env else None,
            calls_per_minute=calls_per_minute,
            output_size=output_size,
            datatype=datatype,
            concurrency=concurrency,
            min_call_interval_seconds=min_interval,
            request_timeout_seconds=timeout,
            call_budget=call_budget,
            splits_refresh_days=refresh_days,
        )


@dataclass(frozen=True)
class RunPlan:
    """What this run fetches and where it files it."""

    symbols: tuple[str, ...]
    output_size: str
    datatype: str
    ingest_date: date
    #: A smoke run: one symbol, landed under SMOKE_PREFIX, never in the raw zone.
    smoke: bool = False


def plan_run(settings: Settings, event: Mapping[str, Any] | None, today: date) -> RunPlan:
    """Apply the event's overrides to the settings; `today` is the run's date in UTC.

    Only the keys below are read: a scheduled EventBridge event carries many other keys.
    `smoke: true` (a deploy's smoke test) asks for exactly one symbol in `symbols`.
    An `ingest_date` names the day the bars land (a backfill or a replay files under an
    earlier one), so a day after today is refused: it would be a raw partition no run
    could have landed, sorting after every real one.
    """
    event = event or {}
    problems: list[str] = []

    symbols = settings.symbols
    if event.get("symbols") is not None:
        raw = event["symbols"]
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple):
            problems.append("event field 'symbols' must be a list of tickers")
        else:
            symbols = _parse_symbols(items, "event field 'symbols'", problems)

    output_size = _event_choice(event, "outputsize", OUTPUT_SIZES, settings.output_size, problems)
    datatype = _event_choice(event, "datatype", DATATYPES, settings.datatype, problems)

    ingest_date = today
    if event.get("ingest_date") is not None:
        raw_date = event["ingest_date"]
        try:
            ingest_date = _strict_date(raw_date)
        except (TypeError, ValueError):
            problems.append(
                f"event field 'ingest_date' must be a date YYYY-MM-DD, got {raw_date!r}"
            )
        else:
            if ingest_date > today:
                problems.append(
                    f"event field 'ingest_date'={raw_date!r} is after today "
                    f"({today.isoformat()}, UTC): an ingest date cannot be in the future"
                )

    smoke = is_smoke_event(event)
    if event.get("smoke") not in (None, True, False):
        problems.append(f"event field 'smoke' must be true or false, got {event['smoke']!r}")
    elif smoke and (event.get("symbols") is None or len(symbols) != 1):
        problems.append("event field 'smoke' asks for exactly one symbol in field 'symbols'")

    if problems:
        raise ConfigurationError("invalid ingestion event: " + "; ".join(problems))
    return RunPlan(symbols, output_size, datatype, ingest_date, smoke)


def is_smoke_event(event: Mapping[str, Any] | None) -> bool:
    """Whether an invocation asks for a smoke run (event field `smoke` is true)."""
    return isinstance(event, Mapping) and event.get("smoke") is True


def _strict_date(value: object) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(value)
    return date.fromisoformat(value)


def _parse_symbols(
    items: list[Any] | tuple[Any, ...], name: str, problems: list[str]
) -> tuple[str, ...]:
    symbols: list[str] = []
    for item in items:
        if not isinstance(item, str):
            problems.append(f"{name}: {item!r} is not a ticker")
            continue
        symbol = item.strip().upper()
        if not symbol:
            continue
        if not SYMBOL_PATTERN.match(symbol):
            problems.append(f"{name}: {item.strip()!r} is not a ticker (letters, digits, '.', '-')")
        elif symbol not in symbols:
            symbols.append(symbol)
    if not symbols and not problems:
        problems.append(f"{name} lists no ticker")
    return tuple(symbols)


def _positive_int(env: dict[str, str], name: str, default: int, problems: list[str]) -> int:
    if name not in env:
        return default
    value = env[name]
    if not value.isdigit() or int(value) < 1:
        problems.append(f"{name}={value!r} is not a positive whole number")
        return default
    return int(value)


def _whole_number(env: dict[str, str], name: str, default: int, problems: list[str]) -> int:
    if name not in env:
        return default
    if not env[name].isdigit():
        problems.append(f"{name}={env[name]!r} is not a whole number >= 0")
        return default
    return int(env[name])


def _non_negative_float(
    env: dict[str, str], name: str, default: float, problems: list[str]
) -> float:
    if name not in env:
        return default
    try:
        number = float(env[name])
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        problems.append(f"{name}={env[name]!r} is not a number of seconds >= 0")
        return default
    return number


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...], problems: list[str]) -> str:
    value = env.get(name, choices[0]).lower()
    if value not in choices:
        problems.append(f"{name}={value!r} must be one of {', '.join(choices)}")
        return choices[0]
    return value


def _event_choice(
    event: Mapping[str, Any],
    name: str,
    choices: tuple[str, ...],
    default: str,
    problems: list[str],
) -> str:
    value = event.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value.lower() not in choices:
        problems.append(f"event field {name!r}={value!r} must be one of {', '.join(choices)}")
        return default
    return value.lower()
