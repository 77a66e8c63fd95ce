"""Invoke the ingestion handler from an unpacked Lambda artifact, as Lambda would.

tests/components/test_artifacts.py starts it in a fresh interpreter:

    python -I -S lambda_invoke.py ARTIFACT_DIR LAYER_DIR EVENT_JSON RESULT_FILE

-I and -S leave only the standard library on sys.path (no site-packages, no script
directory, no PYTHON* variables); this script puts the unpacked artifact first and then
the stand-in for what the Lambda runtime and the Powertools layer provide, the order
Lambda uses (/var/task, then the layers, then the runtime's boto3). It writes the
handler's result and where each interesting module was imported from to RESULT_FILE.
"""

import importlib
import importlib.util
import json
import sys
import uuid

artifact_dir, layer_dir, event_json, result_file = sys.argv[1:5]
sys.path[:0] = [artifact_dir, layer_dir]


class LambdaContext:
    """The attributes Powertools' logger and the handler read from Lambda's context."""

    function_name = "stockpipe-ingest"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:stockpipe-ingest"
    aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


from runtime.ingest.handler import handler  # noqa: E402 (needs the sys.path above)

result = handler(json.loads(event_json), LambdaContext())

MODULES = (
    "runtime.ingest.handler",
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset_normalizer",
    "charset_normalizer.md",
    "boto3",
    "botocore",
    "aws_lambda_powertools",
)
# Things a sloppy path would let in: present in the test venv, absent on Lambda.
NOT_ON_LAMBDA = ("moto", "pytest", "pulumi", "responses", "pyarrow")

with open(result_file, "w", encoding="utf-8") as out:
    json.dump(
        {
            "result": result,
            "origins": {name: importlib.import_module(name).__file__ for name in MODULES},
            "importable_but_not_on_lambda": [
                name for name in NOT_ON_LAMBDA if importlib.util.find_spec(name) is not None
            ],
        },
        out,
    )
