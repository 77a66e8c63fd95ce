"""A pytest plugin that records every AWS call `runtime/` code makes while tests run.

    pytest -p tests.contracts.aws_call_recorder ...   (with STOCKPIPE_AWS_CALLS=<file>)

The contract test of the job role (`test_job_role_allows_what_the_code_calls.py`) runs
the write-audit-publish moto tests under this plugin in a fresh process, so the operations
it checks are the ones the code makes today, not a list someone keeps by hand. A botocore
`before-parameter-build` hook on every session sees each call; a call counts when a frame
of `runtime/` is on the stack (the tests' own fixtures set up moto with plain boto3 calls,
which are not the job's). At the end of the session the file gets one JSON object per
call: service, operation, parameters (JSON-able values only), the runtime frame that made
it and the test it ran in. A call made inside another call (a test double's own writes
from a botocore hook) is not the code's and is left out.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from botocore.handlers import BUILTIN_HANDLERS

RUNTIME_DIR = str(Path(__file__).resolve().parents[2] / "runtime") + os.sep
OUTPUT_VARIABLE = "STOCKPIPE_AWS_CALLS"

_calls: list[dict[str, Any]] = []
_current_test = ""


def _runtime_caller() -> str | None:
    """The runtime frame that made this call, or None for a test's own call or for a call
    made inside another API call (a test double answering the engine through a botocore
    hook does its own S3 writes: those are the double's, not the job's)."""
    frame = sys._getframe(2)
    caller = None
    api_calls = 0
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_make_api_call" and code.co_filename.endswith("botocore/client.py"):
            api_calls += 1
        if caller is None and code.co_filename.startswith(RUNTIME_DIR):
            caller = f"{code.co_filename[len(RUNTIME_DIR) :]}:{code.co_name}"
        frame = frame.f_back
    return caller if api_calls == 1 else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items() if _keep(item)}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value if _keep(item)]
    return value


def _keep(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | dict | list | tuple) or value is None


def _record(params: dict, model: Any, **_: Any) -> None:
    caller = _runtime_caller()
    if caller is None:
        return
    _calls.append(
        {
            "service": model.service_model.service_name,
            "operation": model.name,
            "params": _jsonable(params),
            "caller": caller,
            "test": _current_test,
        }
    )


# Every botocore session created from now on (boto3's default one included) gets the hook.
BUILTIN_HANDLERS.append(("before-parameter-build", _record))


def pytest_runtest_setup(item) -> None:
    global _current_test
    _current_test = item.nodeid


def pytest_sessionfinish(session, exitstatus) -> None:
    target = os.environ.get(OUTPUT_VARIABLE)
    if target:
        Path(target).write_text(json.dumps(_calls, default=str), encoding="utf-8")
