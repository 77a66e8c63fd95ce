"""The AWS calls the write-audit-publish code makes in its moto tests, recorded live.

`start()` runs those tests (tests/runtime/wap: the Athena engine's, the job's, and the
Athena end-to-end test when it exists) in a fresh pytest process under
`tests.contracts.aws_call_recorder`; `result()` waits for it and returns the recorded
calls. The first test that needs them starts the run; `make test` runs the suite on every
core (pytest-xdist), so the other workers go on meanwhile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from components.plan import PROJECT_ROOT

WAP_TESTS = PROJECT_ROOT / "tests" / "runtime" / "wap"
RECORDED_FILES = ("test_athena_engine.py", "test_job.py", "test_athena_end_to_end.py")


@dataclass
class Recorded:
    calls: list[dict]
    files: list[str]
    returncode: int
    output: str


_run: dict = {}


def start() -> None:
    if _run:
        return
    files = [str(WAP_TESTS / name) for name in RECORDED_FILES if (WAP_TESTS / name).is_file()]
    handle, output = tempfile.mkstemp(prefix="stockpipe-aws-calls-", suffix=".json")
    os.close(handle)
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (read back in result())
    process = subprocess.Popen(  # noqa: S603 (our own tests)
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "tests.contracts.aws_call_recorder", "-m", "aws", *files],
        cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "STOCKPIPE_AWS_CALLS": output},
    )  # fmt: skip
    _run.update(process=process, output=Path(output), log=log, files=files)


def result() -> Recorded:
    start()
    if "recorded" not in _run:
        process = _run["process"]
        returncode = process.wait(timeout=300)
        _run["log"].seek(0)
        text = _run["log"].read()
        output = _run["output"]
        calls = json.loads(output.read_text(encoding="utf-8") or "[]")
        output.unlink(missing_ok=True)
        _run["recorded"] = Recorded(calls, [Path(f).name for f in _run["files"]], returncode, text)
    return _run["recorded"]
