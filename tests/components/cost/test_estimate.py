"""`make cost`: totals, drivers, and the figure of a small stack worked out by hand."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from components.plan import PROJECT_ROOT
from runtime.wap import scan_metrics

COST_DIR = PROJECT_ROOT / "components" / "cost"
SMALL_STACK = """
config:
  aws:region: us-east-1
  stockpipe:alphaVantageApiKey:
    secure: AAABAbCdEf
  stockpipe:symbols: NVDA
  stockpipe:schedule: rate(1 day)
"""
# Usage that leaves only what a hand can check: 10-second Lambda runs, Glue steps shorter
# than the billed minimum, a 1-DPU crawler, 10 GB in S3, no logs, no ad-hoc queries.
SMALL_USAGE = """
version: 0.1
resource_type_default_usage:
  "aws:lambda/function:Function": {average_duration_seconds: 10, custom_metrics: 0}
  "aws:glue/job:Job": {average_run_seconds: 30}
  "aws:glue/crawler:Crawler": {average_run_seconds: 60, dpus: 1}
  "aws:s3/bucket:Bucket": {storage_gb: 10, put_requests: 0, get_requests: 0}
  "aws:cloudwatch/logGroup:LogGroup": {ingested_gb: 0}
  "aws:athena/workgroup:Workgroup": {adhoc_queries_per_day: 0}
"""


def _prices() -> dict[str, dict]:
    table = tomllib.loads((COST_DIR / "prices.toml").read_text(encoding="utf-8"))
    return {row["item"]: row for row in table["price"] if row["region"] == "us-east-1"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_stack_prints_a_total_and_its_three_largest_drivers(cost, stack):
    run = cost(stack)

    assert run.status == 0, run.err
    assert "total: $" in run.out
    drivers = run.out.split("largest drivers:\n")[1].splitlines()[:3]
    assert [line.split(".")[0].strip() for line in drivers] == ["1", "2", "3"]
    assert "Athena scan:" in run.out
    assert "free tiers, shown apart and not deducted:" in run.out


def test_a_small_stack_costs_what_the_price_table_says_by_hand(cost, project, tmp_path):
    usage = tmp_path / "usage.yml"
    usage.write_text(SMALL_USAGE, encoding="utf-8")
    directory = project("small", SMALL_STACK)

    run = cost("small", "--usage", str(usage), "--format", "json", "--project-dir", str(directory))

    assert run.status == 0, run.err
    result = run.json()
    p = {item: row["usd"] for item, row in _prices().items()}
    runs = 365.25 / 12  # rate(1 day)
    alarms = sum(1 for r in result["resources"] if r["type"].endswith("metricAlarm:MetricAlarm"))
    measured = json.loads((COST_DIR / "measured_scan.json").read_text(encoding="utf-8"))
    longest = max(case["years"] for case in measured["cases"])
    (case,) = [c for c in measured["cases"] if c["years"] == longest and c["symbols"] == 40]
    queries = len(case["wap"])  # each under 10 MB: billed 10 MB
    expected = (
        # Lambda: 256 MB on arm64 for 10 s a run, and the requests
        runs * 0.25 * 10 * p["lambda_gb_second_arm64"]
        + runs / 1e6 * p["lambda_requests_million"]
        + runs / 1e6 * p["scheduler_invocations_million"]
        + p["secret_month"]
        + runs / 10_000 * p["secret_api_calls_10k"]
        # four Glue Python-shell steps of 0.0625 DPU, each billed its 60 s minimum
        + 4 * runs * 60 / 3600 * 0.0625 * p["glue_pythonshell_dpu_hour"]
        # the crawler's 10-minute minimum at 1 DPU
        + runs * 600 / 3600 * 1 * p["glue_crawler_dpu_hour"]
        # custom metrics: 2 freshness metrics of 1 symbol, the scan bytes of 4 steps
        + (2 * 1 + 1 * 4) * p["cloudwatch_custom_metric_month"]
        + alarms * p["cloudwatch_alarm_metric_month"]
        + runs * queries * 10 * 2**20 / 2**40 * p["athena_scanned_tb"]
        + 10 * p["s3_standard_gb_month"]
    )
    assert alarms > 0
    assert result["total_usd"] == pytest.approx(expected, abs=1e-3)


def test_external_grafana_has_no_workspace_user_charges_and_keeps_its_queries(cost, project):
    managed = """
config:
  aws:region: us-east-1
  stockpipe:alphaVantageApiKey: {secure: AAABAbCdEf}
  stockpipe:grafana: {mode: managed}
"""
    external = """
config:
  aws:region: us-east-1
  stockpipe:alphaVantageApiKey: {secure: AAABAbCdEf}
  stockpipe:grafanaToken: {secure: AAABAbCdEf}
  stockpipe:grafana: {mode: external, url: "https://grafana.example.org/", awsAuth: default}
"""
    project("managed", managed)
    directory = project("external", external)

    runs = {
        stack: cost(stack, "--format", "json", "--project-dir", str(directory)).json()
        for stack in ("managed", "external")
    }

    def charges(stack: str, service: str) -> float:
        return sum(r["usd"] for r in runs[stack]["resources"] if r["service"] == service)

    p = {item: row["usd"] for item, row in _prices().items()}
    # the default usage: 1 editor and 2 viewers
    assert charges("managed", "Managed Grafana") == pytest.approx(
        p["grafana_editor_month"] + 2 * p["grafana_viewer_month"]
    )
    assert charges("external", "Managed Grafana") == 0
    assert charges("external", "Athena") == pytest.approx(charges("managed", "Athena"))
    assert runs["managed"]["total_usd"] - runs["external"]["total_usd"] == pytest.approx(
        p["grafana_editor_month"] + 2 * p["grafana_viewer_month"], abs=1e-3
    )


def test_json_names_every_charge_and_the_measured_scan(cost):
    result = cost("prod", "--format", "json").json()

    assert result["stack"] == "prod"
    assert result["region"] == "us-east-1"
    assert result["total_usd"] == pytest.approx(
        sum(r["usd"] for r in result["resources"]), abs=0.01
    )
    assert len(result["drivers"]) == 3
    assert result["drivers"][0]["usd"] >= result["drivers"][1]["usd"] >= result["drivers"][2]["usd"]
    assert "measured" in result["athena_scan"]
    assert {f["service"] for f in result["free_tiers_not_deducted"]} >= {"Lambda", "CloudWatch"}


def test_every_usage_default_is_documented_and_the_table_cites_a_page_and_date():
    table = tomllib.loads((COST_DIR / "prices.toml").read_text(encoding="utf-8"))
    for row in table["price"]:
        assert row["source"].startswith("https://aws.amazon.com/"), row["item"]
        assert row["read"]
        assert row["unit"]
        assert row["region"]
    text = (COST_DIR / "usage.yml").read_text(encoding="utf-8")
    assert text.startswith("#")
    docs = (PROJECT_ROOT / "docs" / "cost.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        key = line.strip().split(":")[0]
        if line.startswith("    ") and key and not key.startswith("#"):
            assert f"`{key}`" in docs, key


def test_the_athena_rule_of_the_runtime_is_the_price_tables():
    athena = _prices()["athena_scanned_tb"]
    assert athena["minimum_bytes_per_query"] == scan_metrics.MINIMUM_BILLED_BYTES
    assert athena["rounding_bytes"] == scan_metrics.MEGABYTE


def test_the_estimate_uses_the_measurement_benchmarks_write():
    measured = json.loads((COST_DIR / "measured_scan.json").read_text(encoding="utf-8"))
    assert {(c["symbols"], c["years"]) for c in measured["cases"]} >= {(40, 1), (40, 20)}
    assert Path(PROJECT_ROOT / "benchmarks" / "cost_scan.py").is_file()
