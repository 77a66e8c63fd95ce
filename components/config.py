"""The stack configuration (namespace `stockpipe`): read once, validated, typed.

`load_stack_config` reads every key, collects every problem and fails with one message
(a `pulumi.RunError`, which `pulumi preview` prints without a traceback) naming each bad
key, its value and what is allowed. Values derived from the configuration (the Lambda
timeout) live here too, so the reason for a number is next to the knobs that set it.

Infrastructure reads runtime files by path only, so the rules shared with
`runtime/ingest` (the ticker pattern, the pacing constants behind the timeout) are
repeated here; `tests/contracts/` checks they still match the runtime's.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
from pulumi.runtime import config as runtime_config

from components import grafana_config, spend_config, stack_name
from components.grafana_config import GrafanaConfig
from components.setting import Setting
from components.spend_config import SpendConfig

NAMESPACE = "stockpipe"

SYMBOLS = "symbols"
API_KEY = "alphaVantageApiKey"
SCHEDULE = "schedule"
SCHEDULE_TIMEZONE = "scheduleTimezone"
INGESTION_SINK = "ingestionSink"
CALLS_PER_MINUTE = "callsPerMinute"
OUTPUT_SIZE = "outputSize"
ALERT_EMAIL = "alertEmail"
LOG_RETENTION_DAYS = "logRetentionDays"
PROTECT_DATA = "protectData"
FRESHNESS_MAX_AGE_DAYS = "freshnessMaxAgeDays"
POWERTOOLS_LAYER_ARN = "powertoolsLayerArn"
CALL_BUDGET = "apiDailyCallBudget"
SPLITS_REFRESH_DAYS = "splitsRefreshDays"

DEFAULT_SYMBOLS = ("AMD", "NVDA", "INTC", "MU", "QCOM", "TXN", "AMAT", "AVGO", "LSCC", "KLAC")
DEFAULT_SCHEDULE = "cron(0 22 ? * MON-FRI *)"
DEFAULT_TIMEZONE = "UTC"
SINKS = ("s3", "firehose")
OUTPUT_SIZES = ("compact", "full")
DEFAULT_CALLS_PER_MINUTE = 5
# A free key's requests per day over every endpoint (0: no budget, for premium keys), and
# the oldest a symbol's split record may get (runtime/ingest/settings.py).
DEFAULT_CALL_BUDGET = 25
DEFAULT_SPLITS_REFRESH_DAYS = 7
MAX_SPLITS_REFRESH_DAYS = 365
DEFAULT_LOG_RETENTION_DAYS = 30
# The freshness alarm looks at this many daily periods: a weekday schedule leaves two days
# without a publish every weekend, so 3 is the least that does not page on Saturdays, and
# CloudWatch evaluates daily periods over at most 7 days.
DEFAULT_FRESHNESS_MAX_AGE_DAYS = 4
FRESHNESS_MAX_AGE_CHOICES = range(1, 8)
# The stack whose data is protected unless protectData says otherwise.
PRODUCTION_STACK = "prod"

# What CloudWatch Logs accepts as retentionInDays (0 would mean "never expire", which
# PutRetentionPolicy refuses; leave the key unset for a bounded default instead).
LOG_RETENTION_CHOICES = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# The ticker rule of runtime/ingest/settings.py (SYMBOL_PATTERN).
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,11}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A Lambda layer version ARN (partition, region, account, layer name, version). Layers are
# regional: a function uses a layer version of its own region, which is why AWS publishes
# Powertools per region (https://aws.amazon.com/blogs/compute/deploying-aws-lambda-layers-automatically-across-multiple-regions/).
LAYER_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):\d{12}:layer:[A-Za-z0-9_-]{1,140}:\d+$"
)

# Every key of the namespace, declared once: the loader reads exactly these keys (any other
# is reported as unknown) and docs/configuration.md is generated from these rows.
SETTINGS = (
    Setting(
        SYMBOLS,
        "list of tickers",
        ",".join(DEFAULT_SYMBOLS),
        "a YAML list or a comma-separated string of tickers: 1-12 characters of A-Z, 0-9, "
        "`.` and `-`, starting with a letter or digit; upper-cased, duplicates dropped; at "
        "most as many as fit in Lambda's 900 s at `callsPerMinute` (60 at 5 a minute)",
        "NVDA,AMD,TSM",
        "The tickers ingested every run and audited by `expected_symbols`. With "
        "`callsPerMinute` they set the Lambda timeout.",
    ),
    Setting(
        API_KEY,
        "secret string",
        None,
        "a Pulumi secret (`pulumi config set --secret`); refused in clear text, without echoing it",
        "<your Alpha Vantage key>",
        "The Alpha Vantage API key. Stored only in the Secrets Manager secret; the function "
        "gets the secret's ARN.",
        default_note="required",
        secret=True,
    ),
    Setting(
        SCHEDULE,
        "string",
        DEFAULT_SCHEDULE,
        "an EventBridge Scheduler expression: `cron(minutes hours day-of-month month "
        "day-of-week year)` with exactly one of the two day fields `?` (day-of-week 1-7 or "
        "SUN-SAT), or `rate(N minute|minutes|hour|hours|day|days)`",
        "cron(0 18 ? * MON-FRI *)",
        "When ingestion runs (the workflow follows a successful run).",
    ),
    Setting(
        SCHEDULE_TIMEZONE,
        "string",
        DEFAULT_TIMEZONE,
        "an IANA time zone name",
        "America/New_York",
        "The zone `schedule` is read in (prod runs at 18:00 New York time).",
    ),
    Setting(
        INGESTION_SINK,
        "string",
        SINKS[0],
        "one of " + ", ".join(SINKS),
        "firehose",
        "Where the function lands raw bars: objects under `raw/`, or a Firehose delivery "
        "stream to `raw_firehose/` (5 MiB or 60 s buffering, GZIP, errors under "
        "`raw_firehose_errors/`, delivery logs).",
    ),
    Setting(
        CALLS_PER_MINUTE,
        "whole number",
        str(DEFAULT_CALLS_PER_MINUTE),
        "a whole number, at least 1",
        "75",
        "The API key's request budget per minute; with `symbols` it sets the Lambda timeout.",
    ),
    Setting(
        OUTPUT_SIZE,
        "string",
        OUTPUT_SIZES[0],
        "one of " + ", ".join(OUTPUT_SIZES),
        "full",
        "`compact` fetches the latest 100 bars, `full` the whole history (premium keys "
        "only: a free key falls back to compact with a warning).",
    ),
    Setting(
        ALERT_EMAIL,
        "string",
        None,
        "an email address",
        "data-team@example.org",
        "Subscribes this address to the alert topic (confirm the email AWS sends).",
        default_note="none: no subscription",
    ),
    Setting(
        LOG_RETENTION_DAYS,
        "whole number",
        str(DEFAULT_LOG_RETENTION_DAYS),
        "one of the values CloudWatch Logs accepts: " + ", ".join(map(str, LOG_RETENTION_CHOICES)),
        "90",
        "How long the function's and the delivery stream's logs are kept (not the Glue "
        "jobs': Python shell writes to Glue's account-wide default log groups, which the "
        "stack does not own).",
    ),
    Setting(
        PROTECT_DATA,
        "boolean",
        "false",
        "true or false",
        "true",
        "`protect` and `retainOnDelete` on the bucket; `false` also sets `force_destroy`, so "
        "`pulumi destroy` empties a dev bucket.",
        default_note=f"`true` on the stack named `{PRODUCTION_STACK}`, `false` elsewhere",
    ),
    Setting(
        FRESHNESS_MAX_AGE_DAYS,
        "whole number",
        str(DEFAULT_FRESHNESS_MAX_AGE_DAYS),
        f"a whole number of days from {FRESHNESS_MAX_AGE_CHOICES.start} to "
        f"{FRESHNESS_MAX_AGE_CHOICES.stop - 1} (CloudWatch evaluates daily periods over at "
        "most a week)",
        "3",
        "The freshness alarm fires when a symbol's newest published bar is older than this, "
        "or no publish has reported it for that many daily periods. Below 3 it pages every "
        "weekend on a weekday schedule.",
    ),
    Setting(
        CALL_BUDGET,
        "whole number",
        str(DEFAULT_CALL_BUDGET),
        "a whole number, at least 0 (0: no budget, for premium keys); the symbols' prices and "
        "split refresh cycle must fit in it",
        "75",
        "The most Alpha Vantage requests all of a UTC day's runs make together (retries "
        "included; the free tier allows 25). Prices go first, split records after; calls "
        "that do not fit wait for the next day (the `CallsDeferred` metric).",
    ),
    Setting(
        SPLITS_REFRESH_DAYS,
        "whole number",
        str(DEFAULT_SPLITS_REFRESH_DAYS),
        f"a whole number of days from 1 to {MAX_SPLITS_REFRESH_DAYS}",
        "14",
        "How old a symbol's split record may get before it is fetched again; the refreshes "
        "are spread over the days (see Stock splits).",
    ),
    Setting(
        POWERTOOLS_LAYER_ARN,
        "string",
        None,
        "a Lambda layer version ARN in the stack's region "
        "(`arn:aws:lambda:<region>:<account>:layer:<name>:<version>`)",
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:18",
        "The Powertools for AWS Lambda layer the function uses, instead of looking it up in "
        "the public SSM parameter of the locked Powertools release. `make preflight` checks "
        "that it exists and holds that release.",
        default_note="none: looked up in SSM",
    ),
    *grafana_config.SETTINGS,
    *spend_config.SETTINGS,
)
KEYS = tuple(setting.key for setting in SETTINGS)

# The handler's pacing and time budget (runtime/ingest): a call may take the connect
# plus read timeout, a burst throttle is retried up to MAX_ATTEMPTS times with backoff
# from 60/callsPerMinute s doubling (at most 60 s), free keys space call starts by up to
# one second, and the run keeps a margin for the last write.
REQUEST_SECONDS = 5.0 + 30.0
MAX_ATTEMPTS = 4
MAX_BACKOFF_SECONDS = 60.0
MIN_CALL_INTERVAL_SECONDS = 1.0
SAFETY_MARGIN_SECONDS = 10.0
PACING_PERIOD_SECONDS = 60.0
LAMBDA_MAX_TIMEOUT_SECONDS = 900


class StackConfigError(pulumi.RunError):
    """The stack configuration is invalid; the message names every bad key."""


@dataclass(frozen=True)
class StackConfig:
    """Every setting the stack is built from, validated."""

    stack: str
    api_key: pulumi.Output[str]
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    schedule: str = DEFAULT_SCHEDULE
    schedule_timezone: str = DEFAULT_TIMEZONE
    ingestion_sink: str = "s3"
    calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE
    output_size: str = "compact"
    alert_email: str | None = None
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    protect_data: bool = False
    freshness_max_age_days: int = DEFAULT_FRESHNESS_MAX_AGE_DAYS
    call_budget: int = DEFAULT_CALL_BUDGET
    splits_refresh_days: int = DEFAULT_SPLITS_REFRESH_DAYS
    grafana: GrafanaConfig = grafana_config.NO_GRAFANA
    # The Powertools layer version ARN to use instead of the SSM lookup (None: look it up).
    powertools_layer_arn: str | None = None
    spend: SpendConfig = spend_config.NO_SPEND_GUARD

    @property
    def lambda_timeout_seconds(self) -> int:
        calls = run_calls(len(self.symbols), self.call_budget)
        return lambda_timeout_seconds(calls, self.calls_per_minute)


def run_calls(symbol_count: int, call_budget: int) -> int:
    """The most fetches one run may make: a price series and a split record per symbol (a
    first ingestion asks for every record), never more than the day's call budget."""
    calls = 2 * symbol_count
    return min(calls, call_budget) if call_budget else calls


def lambda_timeout_seconds(call_count: int, calls_per_minute: int) -> int:
    """The timeout one run of `call_count` fetches needs at `calls_per_minute`.

    The last fetch's first call starts once the pacer has let the earlier ones through
    (one budget of calls per minute, starts spaced by up to a second); from there it may
    be throttled on every attempt, each attempt taking the full request time after its
    backoff; then the safety margin. Rounded up to a whole minute: ten fetches at 5 a
    minute need 64 + 224 + 10 = 298 s, so 300 s; ten symbols with their split records
    (20 fetches) need 184 + 224 + 10 = 418 s, so 420 s.
    """
    waves = math.ceil(call_count / calls_per_minute)
    interval = min(MIN_CALL_INTERVAL_SECONDS, PACING_PERIOD_SECONDS / calls_per_minute)
    last_start = (waves - 1) * PACING_PERIOD_SECONDS + (
        min(call_count, calls_per_minute) - 1
    ) * interval
    first_backoff = PACING_PERIOD_SECONDS / calls_per_minute
    backoffs = sum(
        min(MAX_BACKOFF_SECONDS, first_backoff * 2 ** (retry - 1))
        for retry in range(1, MAX_ATTEMPTS)
    )
    worst_symbol = MAX_ATTEMPTS * REQUEST_SECONDS + backoffs
    seconds = last_start + worst_symbol + SAFETY_MARGIN_SECONDS
    return math.ceil(seconds / 60) * 60


def load_stack_config(
    config: pulumi.Config | None = None, stack: str | None = None, project: str | None = None
) -> StackConfig:
    """Read and validate the `stockpipe` configuration of `stack` (default: the current one)."""
    config = config or pulumi.Config(NAMESPACE)
    stack = stack or pulumi.get_stack()
    project = project or pulumi.get_project()
    problems: list[str] = []
    values = {
        key: _raw(config, key, problems)
        for key in KEYS
        if key not in (API_KEY, *grafana_config.KEYS)
    }

    problems += _unknown_keys()
    symbols = _parse_symbols(values[SYMBOLS], problems)
    api_key = _api_key(config, problems)
    schedule = values[SCHEDULE] or DEFAULT_SCHEDULE
    problem = schedule_problem(schedule)
    if problem:
        problems.append(_bad(SCHEDULE, schedule, problem))
    timezone = values[SCHEDULE_TIMEZONE] or DEFAULT_TIMEZONE
    if timezone not in zoneinfo.available_timezones():
        problems.append(
            _bad(SCHEDULE_TIMEZONE, timezone, "must be an IANA time zone such as America/New_York")
        )
    sink = _choice(values, INGESTION_SINK, SINKS, problems)
    output_size = _choice(values, OUTPUT_SIZE, OUTPUT_SIZES, problems)
    calls_per_minute = _whole_number(
        values, CALLS_PER_MINUTE, DEFAULT_CALLS_PER_MINUTE, problems, lambda n: n >= 1,
        "must be a whole number of at least 1 (the key's requests per minute)",
    )  # fmt: skip
    retention = _whole_number(
        values, LOG_RETENTION_DAYS, DEFAULT_LOG_RETENTION_DAYS, problems,
        lambda n: n in LOG_RETENTION_CHOICES,
        "must be one of the values CloudWatch Logs accepts: "
        + ", ".join(map(str, LOG_RETENTION_CHOICES)),
    )  # fmt: skip
    freshness = _whole_number(
        values, FRESHNESS_MAX_AGE_DAYS, DEFAULT_FRESHNESS_MAX_AGE_DAYS, problems,
        lambda n: n in FRESHNESS_MAX_AGE_CHOICES,
        "must be a whole number of days from 1 to 7 (CloudWatch evaluates daily periods "
        "over at most a week)",
    )  # fmt: skip
    call_budget = _whole_number(
        values, CALL_BUDGET, DEFAULT_CALL_BUDGET, problems, lambda n: n >= 0,
        "must be a whole number of API calls a day, 0 for no budget (premium keys)",
    )  # fmt: skip
    refresh_days = _whole_number(
        values, SPLITS_REFRESH_DAYS, DEFAULT_SPLITS_REFRESH_DAYS, problems,
        lambda n: 1 <= n <= MAX_SPLITS_REFRESH_DAYS,
        f"must be a whole number of days from 1 to {MAX_SPLITS_REFRESH_DAYS}",
    )  # fmt: skip
    alert_email = values[ALERT_EMAIL]
    if alert_email is not None and not EMAIL_PATTERN.match(alert_email):
        problems.append(_bad(ALERT_EMAIL, alert_email, "must be an email address"))
    protect_data = _boolean(values, PROTECT_DATA, stack == PRODUCTION_STACK, problems)
    grafana = grafana_config.load_grafana_config(config, problems)
    layer_arn = values[POWERTOOLS_LAYER_ARN]
    problem = layer_arn_problem(layer_arn, pulumi.Config("aws").get("region"))
    if problem:
        problems.append(_bad(POWERTOOLS_LAYER_ARN, layer_arn, problem))
    problems += stack_name.stack_name_problems(project, stack, grafana=grafana.mode != "none")
    spend = spend_config.load_spend_config(values, problems)

    if symbols:
        problem = budget_problem(len(symbols), call_budget, refresh_days)
        if problem:
            problems.append(problem)
    if symbols and calls_per_minute >= 1:
        problem = timeout_problem(len(symbols), calls_per_minute, call_budget)
        if problem:
            problems.append(problem)

    if problems:
        raise StackConfigError(
            f"invalid stack configuration for stack {stack!r}:\n  - " + "\n  - ".join(problems)
        )
    return StackConfig(
        stack=stack,
        api_key=api_key,
        symbols=symbols,
        schedule=schedule,
        schedule_timezone=timezone,
        ingestion_sink=sink,
        calls_per_minute=calls_per_minute,
        output_size=output_size,
        alert_email=alert_email,
        log_retention_days=retention,
        protect_data=protect_data,
        freshness_max_age_days=freshness,
        call_budget=call_budget,
        splits_refresh_days=refresh_days,
        grafana=grafana,
        powertools_layer_arn=layer_arn,
        spend=spend,
    )


def layer_arn_problem(arn: str | None, region: str | None) -> str | None:
    """What is wrong with a `powertoolsLayerArn` for a stack in `region`, or None.

    Only the form and the region can be checked offline; whether the layer exists and
    holds the Powertools release the lock pins is the preflight's to ask AWS.
    """
    if arn is None:
        return None
    match = LAYER_ARN_PATTERN.match(arn)
    if not match:
        return (
            "must be a Lambda layer version ARN, arn:aws:lambda:<region>:<account>:layer:"
            "<name>:<version> (AWS's: see /aws/service/powertools/python/arm64/python3.12/latest)"
        )
    if region and match["region"] != region:
        return f"is in region {match['region']}; a function in {region} needs a layer in {region}"
    return None


def budget_problem(symbol_count: int, call_budget: int, refresh_days: int) -> str | None:
    """Why a day's budget cannot hold the symbols' prices and split refresh cycle, or None.

    Every weekday run fetches each symbol's prices, and the refresh cycle asks for about
    1/refresh_days of the split records a day; less budget would defer prices every day.
    """
    daily = symbol_count + math.ceil(symbol_count / refresh_days)
    if not call_budget or daily <= call_budget:
        return None
    most = max(
        (n for n in range(1, symbol_count) if n + math.ceil(n / refresh_days) <= call_budget),
        default=0,
    )
    return (
        f"{_key(SYMBOLS)} lists {symbol_count} symbols, whose prices and split refresh cycle "
        f"({_key(SPLITS_REFRESH_DAYS)}={refresh_days}) need {daily} API calls a day, more "
        f"than {_key(CALL_BUDGET)}={call_budget}: list at most {most} symbols, or raise "
        f"{_key(CALL_BUDGET)} if the key's plan allows it (0: no budget, for premium keys)"
    )


def timeout_problem(symbol_count: int, calls_per_minute: int, call_budget: int) -> str | None:
    """Why the symbols cannot fit in one Lambda run at this pace, or None."""
    calls = run_calls(symbol_count, call_budget)
    needed = lambda_timeout_seconds(calls, calls_per_minute)
    if needed <= LAMBDA_MAX_TIMEOUT_SECONDS:
        return None
    most_symbols = max(
        (n for n in range(1, symbol_count) if _fits(run_calls(n, call_budget), calls_per_minute)),
        default=0,
    )
    least_pace = next(b for b in range(calls_per_minute, calls + 1) if _fits(calls, b))
    return (
        f"{_key(SYMBOLS)} lists {symbol_count} symbols, whose prices and split records make "
        f"up to {calls} API calls a run, which at {_key(CALLS_PER_MINUTE)}={calls_per_minute} "
        f"need a {needed} s Lambda timeout, more than Lambda's {LAMBDA_MAX_TIMEOUT_SECONDS} s: "
        f"list at most {most_symbols} symbols, or raise {_key(CALLS_PER_MINUTE)} to at least "
        f"{least_pace} if the key's plan allows it"
    )


def _fits(call_count: int, calls_per_minute: int) -> bool:
    return lambda_timeout_seconds(call_count, calls_per_minute) <= LAMBDA_MAX_TIMEOUT_SECONDS


# EventBridge Scheduler cron fields: minutes hours day-of-month month day-of-week year.
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
_CRON_FIELDS = (
    ("minutes", 0, 59, "", ""),
    ("hours", 0, 23, "", ""),
    ("day-of-month", 1, 31, "", "?LW"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _DAYS, "?L#"),
    ("year", 1970, 2199, "", ""),
)
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")


def schedule_problem(expression: str) -> str | None:
    """What is wrong with an EventBridge Scheduler cron/rate expression, or None."""
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            return "a rate must be at least 1"
        if (value == 1) != (not unit.endswith("s")):
            return f"write 'rate(1 {unit.rstrip('s')})' for one, plural units for more"
        return None
    if not (expression.startswith("cron(") and expression.endswith(")")):
        return "must be cron(minutes hours day-of-month month day-of-week year) or rate(N unit)"
    fields = expression[5:-1].split()
    if len(fields) != len(_CRON_FIELDS):
        return f"a cron expression has 6 fields, this one has {len(fields)}"
    for value, (field, low, high, names, specials) in zip(fields, _CRON_FIELDS, strict=True):
        if not _cron_field_ok(value, low, high, names, specials):
            return f"cron field {field} {value!r} is not valid ({_allowed(low, high, names)})"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return "exactly one of day-of-month and day-of-week must be '?'"
    return None


def _allowed(low: int, high: int, names: str) -> str:
    allowed = f"values {low}-{high}"
    if names:
        first, *_, last = names.split("|")
        allowed += f" or {first}-{last}"
    return allowed


def _cron_field_ok(value: str, low: int, high: int, names: str, specials: str) -> bool:
    if value == "?":
        return "?" in specials
    name = f"(?:{names})" if names else r"(?!)"
    single = rf"(?:\d+|{name})"
    item = re.compile(rf"^(?:\*|{single}(?:-{single})?)(?:/\d+)?$")
    for part in value.split(","):
        if "L" in specials and re.fullmatch(r"\d*L|LW" if "W" in specials else r"\d*L", part):
            continue
        if "W" in specials and re.fullmatch(r"\d+W", part):
            continue
        if "#" in specials and re.fullmatch(rf"{single}#[1-5]", part):
            continue
        if not item.match(part):
            return False
        numbers = [int(n) for n in re.findall(r"\d+", part.split("/")[0])]
        if any(not low <= n <= high for n in numbers):
            return False
    return True


def _key(key: str) -> str:
    return f"{NAMESPACE}:{key}"


def _bad(key: str, value: object, allowed: str) -> str:
    return f"{_key(key)}={value!r} {allowed}"


def _raw(config: pulumi.Config, key: str, problems: list[str]) -> str | None:
    """The key's value; an empty one is refused rather than read as "use the default"."""
    value = config.get(key)
    if value is None:
        return None
    if not value.strip():
        problems.append(
            f"{_key(key)} is set but empty: give it a value, or remove it "
            f"(pulumi config rm {_key(key)}) to use the default"
        )
        return None
    return value.strip()


def _unknown_keys() -> list[str]:
    """Keys in the `stockpipe` namespace that no code reads: a typo would be ignored."""
    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    problems = []
    for full in sorted(names):
        namespace, _, key = full.partition(":")
        if namespace != NAMESPACE or key in KEYS:
            continue
        close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.7)
        hint = f" (did you mean {_key(close[0])}?)" if close else ""
        problems.append(f"{full} is not a stockpipe setting{hint}; known: {', '.join(KEYS)}")
    return problems


def _api_key(config: pulumi.Config, problems: list[str]) -> pulumi.Output[str]:
    full = _key(API_KEY)
    key = config.get_secret(API_KEY)
    if key is None:
        problems.append(
            f"{full} is required: pulumi config set --secret {full} <your Alpha Vantage key>"
        )
        return pulumi.Output.secret("")
    if not pulumi.runtime.is_config_secret(full):
        # Never echo the value: it is a credential even when stored wrongly.
        problems.append(
            f"{full} is set in clear text; it must be a secret: pulumi config rm {full}, "
            f"revoke the key if the file was shared, then pulumi config set --secret {full} <key>"
        )
    return key


def _parse_symbols(raw: str | None, problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_SYMBOLS
    items: object = raw.split(",")
    if raw.startswith("["):
        try:
            items = json.loads(raw)
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list):
            problems.append(_bad(SYMBOLS, raw, "must be a YAML list or a comma-separated string"))
            return ()
    symbols: list[str] = []
    bad: list[str] = []
    for item in items:
        symbol = item.strip().upper() if isinstance(item, str) else ""
        if not symbol and isinstance(item, str):
            continue
        if not SYMBOL_PATTERN.match(symbol):
            bad.append(repr(item))
        elif symbol not in symbols:
            symbols.append(symbol)
    if bad:
        problems.append(
            f"{_key(SYMBOLS)}: {', '.join(bad)} is not a ticker "
            "(1-12 characters of A-Z, 0-9, '.', '-')"
        )
    elif not symbols:
        problems.append(_bad(SYMBOLS, raw, "lists no ticker"))
    return tuple(symbols)


def _choice(
    values: dict[str, str | None], key: str, choices: tuple[str, ...], problems: list[str]
) -> str:
    value = values[key]
    if value is None:
        return choices[0]
    if value.lower() not in choices:
        problems.append(_bad(key, value, f"must be one of {', '.join(choices)}"))
        return choices[0]
    return value.lower()


def _whole_number(
    values: dict[str, str | None],
    key: str,
    default: int,
    problems: list[str],
    allowed: Callable[[int], bool],
    message: str,
) -> int:
    value = values[key]
    if value is None:
        return default
    if not value.isdigit() or not allowed(int(value)):
        problems.append(_bad(key, value, message))
        return default
    return int(value)


def _boolean(values: dict[str, str | None], key: str, default: bool, problems: list[str]) -> bool:
    value = values[key]
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        problems.append(_bad(key, value, "must be true or false"))
        return default
    return value.lower() == "true"
