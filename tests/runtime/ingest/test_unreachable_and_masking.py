"""An API that cannot be reached fails fast; the key is masked as a whole, never its letters."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from runtime.ingest.errors import IngestionFailed
from runtime.local.alphavantage_bodies import FAILURE_BODIES
from tests.runtime.ingest.conftest import FakeClock, make_settings, run

pytestmark = pytest.mark.aws


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_fails_a_symbol_after_one_retry_and_three_in_a_row_stop_the_run(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = make_settings(
        SYMBOLS="AMD,NVDA,INTC,MU,TSM",
        ALPHAVANTAGE_URL=f"http://127.0.0.1:{closed_port()}/query",
        SINK="local",
        LAKE_DIR=str(tmp_path),
        DATA_BUCKET=None,
    )

    with pytest.raises(IngestionFailed) as failed:
        run(settings, clock)

    result = failed.value.result
    assert list(result["failed"]) == ["AMD", "NVDA", "INTC"]
    assert all(
        reason.startswith("could not reach the API") and "gave up after 2 attempts" in reason
        for reason in result["failed"].values()
    )
    stopped = "not attempted: the API could not be reached for 3 symbols in a row"
    assert result["skipped"] == {"MU": stopped, "TSM": stopped}
    # A 1 s backoff per symbol and the 1 s spacing of calls; a refused call never reached
    # the API, so it spends none of the 5-a-minute budget (the sixth call would otherwise
    # wait most of a minute for a token).
    assert clock.elapsed <= 6.0


def test_a_short_key_is_masked_where_it_stands_whole_not_letter_by_letter(
    api, s3, clock: FakeClock
) -> None:
    api.script("NVDA", FAILURE_BODIES["invalid_symbol"])

    result = run(make_settings(ALPHAVANTAGE_API_KEY="A"), clock)

    assert result["failed"]["NVDA"].startswith(
        "the API rejected the request (unknown symbol?): Invalid API call. Please"
    )
