"""The local run prints the queries it ran, the bytes they read and Athena's bill for them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from runtime.local.cli import main

PRICE_TABLE = Path(__file__).resolve().parents[3] / "components" / "cost" / "prices.toml"
STEP_LINE = re.compile(r"^  (drop_staging|create_staging|audit|publish|report): (.+)$")
QUERY = re.compile(r"(.+?) ([\d,]+) B$")


def _athena_row() -> dict:
    table = tomllib.loads(PRICE_TABLE.read_text(encoding="utf-8"))
    (row,) = [
        r for r in table["price"] if r["item"] == "athena_scanned_tb" and r["region"] == "us-east-1"
    ]
    return row


def test_the_run_prints_each_querys_bytes_and_what_athena_would_bill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--data-dir", str(tmp_path / "d"), "--symbols", "NVDA,AMD"]
    assert main([*argv, "--as-of", "2024-06-07"], environ={}) == 0

    out = capsys.readouterr().out.splitlines()
    queries: dict[str, list[tuple[str, int]]] = {}
    for line in out:
        match = STEP_LINE.match(line)
        if match:
            parts = [QUERY.match(part).groups() for part in match.group(2).split(", ")]
            queries[match.group(1)] = [(name, int(n.replace(",", ""))) for name, n in parts]
    every = [bytes_read for step in queries.values() for _, bytes_read in step]
    assert {"create_staging", "audit", "publish", "report"} <= set(queries)
    assert dict(queries["report"])["panel close_price"] > 0
    # Each query of a two-symbol day reads well under the 10 MB Athena bills at least.
    assert all(n < 10 * 2**20 for n in every)
    row = _athena_row()
    dollars = len(every) * 10 * 2**20 / 2**40 * row["usd"]
    (total,) = [line for line in out if line.startswith("queries: ")]
    assert total.startswith(
        f"queries: {len(every)} read {sum(every):,} bytes; Athena would bill "
        f"{len(every) * 10} MB for them = ${dollars:.6f} ($5.00 per TB in us-east-1"
    )


def test_quiet_keeps_the_total_and_drops_the_query_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--data-dir", str(tmp_path / "d"), "--symbols", "NVDA", "--quiet"]
    assert main([*argv, "--as-of", "2024-06-07"], environ={}) == 0

    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if STEP_LINE.match(line)] == []
    assert len([line for line in out if line.startswith("queries: ")]) == 1
