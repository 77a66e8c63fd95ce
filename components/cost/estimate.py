"""Price each resource of a stack: a line per (resource, service), with the usage behind it.

Per-run minimums are applied where AWS bills them: Glue Python-shell and crawler minimum
durations, Athena's 10 MB per query (rounded up to the MB), Firehose's 5 KB per record,
Lambda's duration per ms. Free tiers are never deducted (the output lists them apart).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.cost.prices import PriceTable
from components.cost.schedule import DAYS_PER_MONTH, runs_per_month
from components.cost.usage import Usage
from components.plan import Registered

MEASURED_SCAN = Path(__file__).resolve().parent / "measured_scan.json"
MB = 1024**2
GB = 1024**3
TB = 1024**4
SCHEDULE = "aws:scheduler/schedule:Schedule"
GLUE_JOB = "aws:glue/job:Job"
LAMBDA = "aws:lambda/function:Function"
#: Metrics each write-audit-publish step sends (runtime/wap/scan_metrics.py) and each
#: symbol's freshness metrics (runtime/wap/metrics.py).
SCAN_METRICS_PER_STEP = 1
FRESHNESS_METRICS_PER_SYMBOL = 2


@dataclass(frozen=True)
class Line:
    resource: str
    type: str
    service: str
    usd: float
    driver: str


@dataclass(frozen=True)
class ScanModel:
    """A daily run's Athena queries, scaled from the measurement to the stack's symbols."""

    wap_bytes: list[int]
    panel_bytes: list[int]
    statement: str


@dataclass
class Stack:
    """What the resources say about how often things run."""

    runs_per_month: float
    symbols: int
    etl_workgroup: str
    scan: ScanModel
    steps: int = 0


@dataclass
class Estimate:
    stack: str
    region: str
    lines: list[Line]
    unpriced: int
    scan: ScanModel
    prices: PriceTable
    usage: Usage

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def by_service(self) -> dict[str, float]:
        services: dict[str, float] = {}
        for line in self.lines:
            services[line.service] = services.get(line.service, 0.0) + line.usd
        return dict(sorted(services.items(), key=lambda item: -item[1]))

    def drivers(self, count: int = 3) -> list[Line]:
        return sorted(self.lines, key=lambda line: -line.usd)[:count]


def estimate(
    stack: str,
    region: str,
    resources: list[Registered],
    prices: PriceTable,
    usage: Usage,
    measured: Path = MEASURED_SCAN,
) -> Estimate:
    context = _stack_context(resources, measured)
    lines: list[Line] = []
    unpriced = 0
    for resource in resources:
        pricer = _PRICERS.get(resource.type)
        priced = (
            pricer(resource, usage.of(resource.type, resource.name), prices, context)
            if pricer
            else []
        )
        lines.extend(priced)
        unpriced += not priced
    return Estimate(stack, region, lines, unpriced, context.scan, prices, usage)


# -- the stack's rhythm ------------------------------------------------------------------


def _stack_context(resources: list[Registered], measured: Path) -> Stack:
    """How often the schedule fires, and the symbols and workgroup the Glue steps are given."""
    schedules = [r for r in resources if r.type == SCHEDULE]
    jobs = [r for r in resources if r.type == GLUE_JOB]
    arguments = jobs[0].inputs.get("defaultArguments", {}) if jobs else {}
    symbols = len([s for s in str(arguments.get("--symbols", "")).split(",") if s])
    return Stack(
        runs_per_month=sum(runs_per_month(r.inputs["scheduleExpression"]) for r in schedules),
        symbols=symbols,
        etl_workgroup=str(arguments.get("--workgroup", "")),
        scan=scan_model(measured, max(symbols, 1)),
        steps=len(jobs),
    )


def scan_model(measured: Path, symbols: int) -> ScanModel:
    """The measured day at the longest history and the nearest symbol count, each query's
    bytes scaled linearly to `symbols` (the measurement shows bytes grow with symbols, not
    with history)."""
    record = json.loads(measured.read_text(encoding="utf-8"))
    longest = max(case["years"] for case in record["cases"])
    cases = [case for case in record["cases"] if case["years"] == longest]
    case = min(cases, key=lambda c: abs(c["symbols"] - symbols))
    factor = symbols / case["symbols"]
    wap = [math.ceil(n * factor) for _, n in case["wap"]]
    panels = [math.ceil(n * factor) for _, n in case["panels"]]
    statement = (
        f"Athena scan: {len(wap)} queries a daily run and {len(panels)} a dashboard load, "
        f"measured {record['measured']} on the local engine ({case['symbols']} symbols x "
        f"{case['years']} years of history; flat in history, benchmarks/README.md P6) and "
        f"scaled linearly to {symbols} symbols: {sum(wap) / MB:.2f} MB and "
        f"{sum(panels) / MB:.2f} MB read"
    )
    return ScanModel(wap, panels, statement)


def athena_billed(bytes_read: int, prices: PriceTable) -> int:
    rules = prices["athena_scanned_tb"].rules
    rounding = rules["rounding_bytes"]
    return max(rules["minimum_bytes_per_query"], -(-bytes_read // rounding) * rounding)


# -- one function per resource type ------------------------------------------------------

Pricer = Callable[[Registered, dict[str, float], PriceTable, Stack], list[Line]]


def _line(resource: Registered, item: str, prices: PriceTable, usd: float, driver: str) -> Line:
    return Line(resource.name, resource.type, prices[item].service, usd, driver)


def _lambda(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    arch = (r.inputs.get("architectures") or ["x86_64"])[0]
    item = "lambda_gb_second_arm64" if arch == "arm64" else "lambda_gb_second_x86_64"
    memory_gb = float(r.inputs.get("memorySize", 128)) / 1024
    rounding = prices[item].rules.get("rounding_ms", 1)
    billed_ms = math.ceil(use["average_duration_seconds"] * 1000 / rounding) * rounding
    gb_seconds = s.runs_per_month * memory_gb * billed_ms / 1000
    usd = (
        s.runs_per_month / 1e6 * prices["lambda_requests_million"].usd
        + gb_seconds * prices[item].usd
    )
    metrics = use["custom_metrics"] * prices["cloudwatch_custom_metric_month"].usd
    return [
        _line(
            r,
            item,
            prices,
            usd,
            f"{s.runs_per_month:.1f} runs x {use['average_duration_seconds']:g} s x "
            f"{memory_gb * 1024:g} MB on {arch} = {gb_seconds:,.0f} GB-s",
        ),
        _line(
            r,
            "cloudwatch_custom_metric_month",
            prices,
            metrics,
            f"{use['custom_metrics']:g} EMF metrics the runs emit",
        ),
    ]


def _schedule(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    runs = runs_per_month(r.inputs["scheduleExpression"])
    usd = runs / 1e6 * prices["scheduler_invocations_million"].usd
    return [_line(r, "scheduler_invocations_million", prices, usd, f"{runs:.1f} invocations")]


def _secret(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    calls = s.runs_per_month  # one GetSecretValue per ingestion run
    usd = prices["secret_month"].usd + calls / 10_000 * prices["secret_api_calls_10k"].usd
    return [_line(r, "secret_month", prices, usd, f"1 secret, {calls:.0f} reads")]


def _glue_job(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    price = prices["glue_pythonshell_dpu_hour"]
    seconds = max(use["average_run_seconds"], price.rules.get("minimum_seconds_per_run", 0))
    dpus = float(r.inputs.get("maxCapacity", 0.0625))
    usd = s.runs_per_month * seconds / 3600 * dpus * price.usd
    return [
        _line(
            r,
            "glue_pythonshell_dpu_hour",
            prices,
            usd,
            f"{s.runs_per_month:.1f} runs x {seconds:g} s billed x {dpus:g} DPU",
        )
    ]


def _crawler(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    price = prices["glue_crawler_dpu_hour"]
    seconds = max(use["average_run_seconds"], price.rules.get("minimum_seconds_per_run", 0))
    usd = s.runs_per_month * seconds / 3600 * use["dpus"] * price.usd
    return [
        _line(
            r,
            "glue_crawler_dpu_hour",
            prices,
            usd,
            f"{s.runs_per_month:.1f} runs x {seconds:g} s billed x {use['dpus']:g} DPU",
        )
    ]


def _workflow(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    metrics = FRESHNESS_METRICS_PER_SYMBOL * s.symbols + SCAN_METRICS_PER_STEP * s.steps
    usd = metrics * prices["cloudwatch_custom_metric_month"].usd
    return [
        _line(
            r,
            "cloudwatch_custom_metric_month",
            prices,
            usd,
            f"{metrics} custom metrics: freshness of {s.symbols} symbols, "
            f"scan bytes of {s.steps} steps",
        )
    ]


def _workgroup(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    per_tb = prices["athena_scanned_tb"].usd
    if r.outputs.get("name") == s.etl_workgroup:
        run_bytes = sum(athena_billed(n, prices) for n in s.scan.wap_bytes)
        billed = s.runs_per_month * run_bytes
        driver = (
            f"{s.runs_per_month:.1f} runs x {len(s.scan.wap_bytes)} queries = "
            f"{billed / MB:,.0f} MB billed"
        )
    else:
        # People's own queries go to the analytics workgroup, with the dashboard's.
        adhoc = use["adhoc_queries_per_day"] * DAYS_PER_MONTH
        billed = adhoc * athena_billed(0, prices)
        driver = f"{adhoc:.0f} ad-hoc queries x 10 MB minimum"
    return [_line(r, "athena_scanned_tb", prices, billed / TB * per_tb, driver)]


def _dashboard(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    per_load = sum(athena_billed(n, prices) for n in s.scan.panel_bytes)
    refreshes = 0.0
    if use["refresh_interval_seconds"] > 0:
        refreshes = use["refreshing_hours_per_day"] * 3600 / use["refresh_interval_seconds"]
    loads = (use["loads_per_day"] + refreshes) * DAYS_PER_MONTH
    usd = loads * per_load / TB * prices["athena_scanned_tb"].usd
    return [
        _line(
            r,
            "athena_scanned_tb",
            prices,
            usd,
            f"{loads:,.0f} loads and refreshes x {len(s.scan.panel_bytes)} queries x "
            f"{per_load / len(s.scan.panel_bytes) / MB:g} MB billed",
        )
    ]


def _alarm(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    queries = r.inputs.get("metricQueries") or []
    metrics = sum(1 for q in queries if q.get("metric")) or 1
    usd = metrics * prices["cloudwatch_alarm_metric_month"].usd
    return [_line(r, "cloudwatch_alarm_metric_month", prices, usd, f"{metrics} alarm metric(s)")]


def _log_group(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    usd = use["ingested_gb"] * prices["cloudwatch_logs_ingested_gb"].usd
    return [
        _line(r, "cloudwatch_logs_ingested_gb", prices, usd, f"{use['ingested_gb']:g} GB ingested")
    ]


def _bucket(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    usd = (
        use["storage_gb"] * prices["s3_standard_gb_month"].usd
        + use["put_requests"] / 1000 * prices["s3_put_1k"].usd
        + use["get_requests"] / 1000 * prices["s3_get_1k"].usd
    )
    return [
        _line(
            r,
            "s3_standard_gb_month",
            prices,
            usd,
            f"{use['storage_gb']:g} GB, {use['put_requests']:,.0f} PUT, "
            f"{use['get_requests']:,.0f} GET",
        )
    ]


def _firehose(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    price = prices["firehose_ingested_gb"]
    records = s.runs_per_month * s.symbols * use["records_per_symbol_per_run"]
    # Each bar is one record of a few hundred bytes: billed as the 5 KB rounding.
    billed = records * price.rules["rounding_bytes_per_record"]
    return [
        _line(
            r,
            "firehose_ingested_gb",
            prices,
            billed / GB * price.usd,
            f"{records:,.0f} records x 5 KB billed each",
        )
    ]


def _workspace(r: Registered, use: dict, prices: PriceTable, s: Stack) -> list[Line]:
    usd = (
        use["active_editors"] * prices["grafana_editor_month"].usd
        + use["active_viewers"] * prices["grafana_viewer_month"].usd
    )
    return [
        _line(
            r,
            "grafana_editor_month",
            prices,
            usd,
            f"{use['active_editors']:g} active editors, {use['active_viewers']:g} active viewers",
        )
    ]


_PRICERS: dict[str, Pricer] = {
    LAMBDA: _lambda,
    SCHEDULE: _schedule,
    "aws:secretsmanager/secret:Secret": _secret,
    GLUE_JOB: _glue_job,
    "aws:glue/crawler:Crawler": _crawler,
    "aws:glue/workflow:Workflow": _workflow,
    "aws:athena/workgroup:Workgroup": _workgroup,
    "grafana:oss/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": _firehose,
    "aws:grafana/workspace:Workspace": _workspace,
}
