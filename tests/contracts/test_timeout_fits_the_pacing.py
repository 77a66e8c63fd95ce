"""The derived Lambda timeout leaves the handler's pacing room for the last symbol's retries.

Run on the real pacer and retry policy with fake time: the earlier symbols answer at
once, the last one is throttled on three attempts, then the first ingestion asks for every
symbol's split record (up to the day's call budget of 25). With the timeout the stack
derives, every symbol still lands and the run keeps its margin (a slower run skips what it
cannot reach, see the README).
"""

from __future__ import annotations

import pytest

from components.config import lambda_timeout_seconds, run_calls
from runtime.ingest.handler import handler
from runtime.local.alphavantage_bodies import FAILURE_BODIES
from tests.runtime.ingest.conftest import FakeLambdaContext

pytestmark = pytest.mark.aws

TICKERS = ["AMD", "NVDA", "INTC", "MU", "QCOM", "TXN", "AMAT", "AVGO", "LSCC", "KLAC"]


@pytest.mark.parametrize(("count", "calls_per_minute"), [(10, 5), (20, 5), (3, 1), (10, 2)])
def test_the_last_symbol_lands_after_three_throttles(
    api, s3, clock, lambda_env, count, calls_per_minute
):
    symbols = [f"{ticker}{i // len(TICKERS) or ''}" for i, ticker in enumerate(TICKERS * 2)]
    symbols = symbols[:count]
    api.script(symbols[-1], *[FAILURE_BODIES["burst"]] * 3)
    lambda_env(SYMBOLS=",".join(symbols), CALLS_PER_MINUTE=str(calls_per_minute))
    timeout = lambda_timeout_seconds(run_calls(count, 25), calls_per_minute)

    result = handler({}, FakeLambdaContext(clock, budget_seconds=timeout))

    assert result["succeeded"] == symbols
    # The split records that fit the budget land too: 25 calls less the prices' count + 3.
    assert len(result["splits"]["landed"]) == min(count, 25 - count - 3)
    assert len(api.calls_for(symbols[-1])) == 4
    assert clock.elapsed <= timeout - 10  # the run's safety margin is still there
