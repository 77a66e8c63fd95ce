"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
NVDA_CSV = SHARED_DATA / "alphavantage" / "TIME_SERIES_DAILY_NVDA.csv"


@pytest.fixture
def nvda_csv() -> Path:
    """The real NVDA TIME_SERIES_DAILY CSV from ../shared/data; skips when absent."""
    if not NVDA_CSV.is_file():
        pytest.skip(f"{NVDA_CSV} is absent (../shared/data is not next to this checkout)")
    return NVDA_CSV


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
