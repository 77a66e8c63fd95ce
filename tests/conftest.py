"""Fixtures shared by every test package.

Pulumi's mocks are set here, once per process and before any component is built
(each `set_mocks` replaces the last; the root stack is created once).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from components.plan import StackMocks, install_mocks

PULUMI_MOCKS = StackMocks()
install_mocks(PULUMI_MOCKS, "dev")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
NVDA_CSV = SHARED_DATA / "alphavantage" / "TIME_SERIES_DAILY_NVDA.csv"
NVDA_SPLITS = SHARED_DATA / "alphavantage" / "SPLITS_NVDA.json"


@pytest.fixture
def nvda_csv() -> Path:
    """The real NVDA TIME_SERIES_DAILY CSV from ../shared/data; skips when absent."""
    if not NVDA_CSV.is_file():
        pytest.skip(f"{NVDA_CSV} is absent (../shared/data is not next to this checkout)")
    return NVDA_CSV


@pytest.fixture
def nvda_splits() -> Path:
    """The real NVDA SPLITS record from ../shared/data; skips when absent."""
    if not NVDA_SPLITS.is_file():
        pytest.skip(f"{NVDA_SPLITS} is absent (../shared/data is not next to this checkout)")
    return NVDA_SPLITS


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region so boto3 can never reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def pulumi_mocks() -> Iterator[StackMocks]:
    """The process's Pulumi mocks, with the record of registered resources emptied."""
    PULUMI_MOCKS.reset()
    yield PULUMI_MOCKS
    PULUMI_MOCKS.reset()
