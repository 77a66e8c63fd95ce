"""Fixtures of the write-audit-publish tests: the embedded DuckDB engine, and the Athena
engine on moto (FakeAws)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from runtime.wap.config import WapConfig
from runtime.wap.engines.athena import AthenaEngine
from runtime.wap.engines.duckdb_engine import DuckDBEngine
from tests.runtime.wap.builders import RawLake
from tests.runtime.wap.fake_aws import FakeAws


@pytest.fixture
def raw_lake(tmp_path: Path) -> RawLake:
    root = tmp_path / "lake"
    root.mkdir()
    return RawLake(root)


@pytest.fixture
def duck(raw_lake: RawLake) -> Iterator[DuckDBEngine]:
    """A DuckDB engine on a real in-memory connection over the test lake, recording scans."""
    engine = DuckDBEngine(raw_lake.root, profile=True)
    yield engine
    engine.close()


@pytest.fixture
def wap_config() -> WapConfig:
    return WapConfig(symbols=("AMD", "NVDA"))


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[FakeAws]:
    """An in-process AWS account (moto) with the data bucket, database and workgroup."""
    with mock_aws():
        yield FakeAws()


@pytest.fixture
def engine(aws: FakeAws) -> AthenaEngine:
    return aws.engine()
