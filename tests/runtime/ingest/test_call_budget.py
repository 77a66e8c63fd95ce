"""The daily call budget: every request counts, retries included; the day's count is shared by
every run (S3 with conditional writes, or the local lake); prices first, split records after,
and what does not fit is deferred, never made."""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest

from runtime.ingest.call_budget import CallBudget
from runtime.ingest.ingest_state import LocalStateStore, S3StateStore
from runtime.local.alphavantage_bodies import FAILURE_BODIES
from tests.runtime.ingest.conftest import (
    BUCKET,
    FakeClock,
    emf_blobs,
    landed_keys,
    make_settings,
    raw_keys,
    run,
    utc,
)

EIGHT = "AMD,NVDA,INTC,MU,QCOM,TXN,AMAT,AVGO"


def day_count(s3, day: str = "2024-06-10") -> int:
    key = f"ingest_state/api_calls/dt={day}.json"
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())["calls"]


def test_more_symbols_than_the_budget_defers_the_rest_and_makes_no_extra_call(api, s3, clock):
    result = run(make_settings(SYMBOLS=EIGHT, API_DAILY_CALL_BUDGET="5"), clock)

    assert len(api.calls) == 5
    assert api.split_calls == []  # prices first: nothing was left for the records
    assert result["succeeded"] == ["AMD", "NVDA", "INTC", "MU", "QCOM"]
    assert list(result["skipped"]) == ["TXN", "AMAT", "AVGO"]
    assert result["skipped"]["TXN"] == (
        "deferred: the day's call budget is spent (5 of 5 calls made on 2024-06-10, UTC)"
    )
    assert list(result["splits"]["deferred"]) == ["AMD", "NVDA", "INTC", "MU", "QCOM"]
    assert result["calls_deferred"] == 3 + 5
    assert result["call_budget"] == {"day": "2024-06-10", "limit": 5, "used": 5}
    assert day_count(s3) == 5
    assert [len(raw_keys(s3, s)) for s in EIGHT.split(",")] == [1] * 5 + [0] * 3


def test_retries_count_against_the_budget(api, s3, clock):
    api.script("AMD", FAILURE_BODIES["burst"], FAILURE_BODIES["burst"])

    result = run(make_settings(SYMBOLS="AMD,NVDA", API_DAILY_CALL_BUDGET="3"), clock)

    assert len(api.calls) == 3  # AMD twice throttled, then answered; NVDA did not fit
    assert result["succeeded"] == ["AMD"]
    assert list(result["skipped"]) == ["NVDA"]
    assert day_count(s3) == 3


def test_the_days_runs_share_one_count_and_the_next_day_starts_afresh(api, s3, clock):
    settings = make_settings(SYMBOLS="AMD,NVDA,INTC", API_DAILY_CALL_BUDGET="7")
    run(settings, clock)  # 3 prices and 3 first split records: 6 calls
    clock.sleep(3600)

    later = run(settings, clock)

    assert len(api.calls) == 4
    assert later["succeeded"] == ["AMD"]
    assert list(later["skipped"]) == ["NVDA", "INTC"]
    assert day_count(s3) == 7

    next_day = run(settings, FakeClock(utc(2024, 6, 11, 21, 5)))

    assert next_day["succeeded"] == ["AMD", "NVDA", "INTC"]
    assert day_count(s3, "2024-06-11") == 3 + len(next_day["splits"]["landed"])


def test_a_budget_of_zero_is_no_budget_and_keeps_no_count(api, s3, clock):
    result = run(make_settings(SYMBOLS=EIGHT, API_DAILY_CALL_BUDGET="0"), clock)

    assert len(result["succeeded"]) == 8
    assert len(api.split_calls) == 8
    assert landed_keys(s3, "ingest_state/api_calls/") == []
    assert result["call_budget"] == {"day": "2024-06-10", "limit": 0, "used": None}


def test_deferred_calls_are_a_metric(api, s3, clock, lambda_env, capsys):
    from runtime.ingest.handler import handler
    from tests.runtime.ingest.conftest import FakeLambdaContext

    lambda_env(SYMBOLS="AMD,NVDA,INTC", API_DAILY_CALL_BUDGET="4")

    handler({}, FakeLambdaContext(clock))

    metrics = {}
    for blob in emf_blobs(capsys.readouterr().out):
        metrics.update({k: v for k, v in blob.items() if k != "_aws"})
    # 1 of the 3 first split records fits after the 3 prices.
    assert (metrics["CallsDeferred"], metrics["SplitRecordsLanded"]) == ([2], [1])
    assert metrics["ApiCalls"] == [4]


class RacingS3:
    """An S3 client through which another run writes the same document between this run's
    read and its conditional write, once: the write must fail and be retried."""

    def __init__(self, client, other: CallBudget) -> None:
        self._client = client
        self._other = other
        self.raced = False

    def get_object(self, **kwargs):
        answer = self._client.get_object(**kwargs)
        if not self.raced:
            self.raced = True
            assert self._other.take() is None
        return answer

    def put_object(self, **kwargs):
        return self._client.put_object(**kwargs)


def test_a_write_between_read_and_update_is_not_lost_in_s3(s3):
    day = date(2024, 6, 10)
    other = CallBudget(S3StateStore(BUCKET, client=s3), day, 10)
    assert other.take() is None  # the document exists: later writes use If-Match
    racing = RacingS3(s3, other)
    budget = CallBudget(S3StateStore(BUCKET, client=racing, sleep=lambda _: None), day, 10)

    assert budget.take() is None

    assert racing.raced
    assert day_count(s3) == 3  # one, the other run's racing one, then this one again


def test_concurrent_local_runs_never_exceed_the_budget(tmp_path):
    day = date(2024, 6, 10)
    budgets = [CallBudget(LocalStateStore(tmp_path), day, 25) for _ in range(4)]
    granted: list[bool] = []
    lock = threading.Lock()

    def spend(budget: CallBudget) -> None:
        for _ in range(10):
            allowed = budget.take() is None
            with lock:
                granted.append(allowed)

    threads = [threading.Thread(target=spend, args=(budget,)) for budget in budgets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert granted.count(True) == 25
    stored = json.loads((tmp_path / "api_calls" / "dt=2024-06-10.json").read_text())
    assert stored["calls"] == 25


@pytest.mark.parametrize("code", ["NoSuchKey", "AccessDenied"])
def test_a_missing_count_reads_as_zero_without_list_permission(s3, code):
    """Without s3:ListBucket S3 answers a missing key with 403: the store creates it."""
    from botocore.exceptions import ClientError

    class Answers:
        def get_object(self, **kwargs):
            if not landed_keys(s3, kwargs["Key"]):
                raise ClientError({"Error": {"Code": code}}, "GetObject")
            return s3.get_object(**kwargs)

        def put_object(self, **kwargs):
            return s3.put_object(**kwargs)

    budget = CallBudget(S3StateStore(BUCKET, client=Answers()), date(2024, 6, 10), 2)

    assert [budget.take() is None for _ in range(3)] == [True, True, False]
    assert day_count(s3) == 2
