"""The deployed function's side of the contracts: its graph, and the handler run on its env."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from components.plan import PROJECT_ROOT
from tests.components.conftest import Graph, cached_graph, plain, stack_graph  # noqa: F401

# The ingestion tests' fixtures (moto, the fake API, fake time, a fresh Powertools state).
from tests.runtime.ingest.conftest import (  # noqa: F401
    api,
    aws,
    clock,
    fresh_powertools_state,
    lambda_env,
    s3,
)

FUNCTION = "aws:lambda/function:Function"
SINKS = ("s3", "firehose")


@dataclass
class HandlerRuns:
    """What the handler did on the function's environment (tests/contracts/handler_run.py)."""

    graph: Graph
    environment: dict[str, str]
    printed: dict[str, str]  # run label -> what it printed
    results: dict[str, Any]
    operations: list[dict]
    moto_secret_arn: str | None


_runs: dict[str, HandlerRuns] = {}


@pytest.fixture
def deployed(stack_graph, tmp_path) -> Callable[[str], HandlerRuns]:  # noqa: F811
    """The dev stack with a sink, and two handler runs on its function's environment."""

    def get(sink: str) -> HandlerRuns:
        if sink not in _runs:
            graph = stack_graph("dev", ingestionSink=sink)
            environment = plain(graph.one(FUNCTION).inputs)["environment"]["variables"]
            result_file = tmp_path / f"handler-{sink}.json"
            completed = subprocess.run(  # noqa: S603 (our own script)
                [sys.executable, "-m", "tests.contracts.handler_run", json.dumps(environment),
                 str(result_file)],
                cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert completed.returncode == 0, completed.stderr[-3000:]
            report = json.loads(result_file.read_text(encoding="utf-8"))
            _runs[sink] = HandlerRuns(
                graph=graph,
                environment=environment,
                printed={entry["run"]: entry["stdout"] for entry in report["printed"]},
                results=report["results"],
                operations=report["operations"],
                moto_secret_arn=report["moto_secret_arn"],
            )
        return _runs[sink]

    return get
