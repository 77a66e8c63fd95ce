"""Run the Lambda handler with the environment the stack gives the function; report what it did.

    python -m tests.contracts.handler_run ENV_JSON RESULT_FILE

A fresh interpreter, because the handler reads POWERTOOLS_METRICS_NAMESPACE when it is
imported. moto stands in for AWS, with the bucket, secret and stream the environment
names; the sample server stands in for Alpha Vantage (ALPHAVANTAGE_URL is the one
variable added: the function calls the real API). Three runs: a smoke run (`make smoke`:
one symbol under smoke/), one where a symbol fails (a partial failure) and one where every
symbol fails (a failed run). RESULT_FILE gets
the EMF documents printed, every AWS operation the handler called (recorded with a
botocore `before-parameter-build` hook on every session), and the ARN moto gave the secret.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from datetime import date

ENV_JSON, RESULT_FILE = sys.argv[1:3]
REGION = "us-east-1"
SECRET_ARN_SUFFIX_LENGTH = len("-AbCdEf")

for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}.items():
    os.environ[name] = value
os.environ.pop("AWS_PROFILE", None)

import boto3  # noqa: E402
from botocore.handlers import BUILTIN_HANDLERS  # noqa: E402
from moto import mock_aws  # noqa: E402

operations: list[dict] = []
recording = False


def record(params, model, **_):
    if recording:
        operations.append(
            {
                "service": model.service_model.service_name,
                "operation": model.name,
                "params": {k: v for k, v in params.items() if isinstance(v, str)},
            }
        )


# Every botocore session created from now on (boto3's and Powertools') gets the hook.
BUILTIN_HANDLERS.append(("before-parameter-build", record))


def create_named_resources(env: dict[str, str]) -> str | None:
    """The resources the environment names, in moto; returns moto's ARN for the secret."""
    if env.get("DATA_BUCKET"):
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=env["DATA_BUCKET"])
    if env.get("FIREHOSE_STREAM_NAME"):
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="firehose-destination")
        boto3.client("firehose", region_name=REGION).create_delivery_stream(
            DeliveryStreamName=env["FIREHOSE_STREAM_NAME"],
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": "arn:aws:s3:::firehose-destination",
            },
        )
    stack_arn = env.get("ALPHAVANTAGE_SECRET_ARN")
    if not stack_arn:
        return None
    # The stack's ARN ends in the name plus the suffix AWS appends; moto appends its own.
    name = stack_arn.split(":secret:", 1)[1][:-SECRET_ARN_SUFFIX_LENGTH]
    client = boto3.client("secretsmanager", region_name=REGION)
    return client.create_secret(Name=name, SecretString="contract-test-key")["ARN"]


def main() -> None:
    global recording
    env = json.loads(ENV_JSON)
    with mock_aws():
        moto_secret_arn = create_named_resources(env)
        from runtime.local.sample_market import SampleMarket
        from runtime.local.sample_server import SampleServer

        market = SampleMarket(seed=3, end=date(2024, 6, 7), years=0.5)
        with SampleServer(market, stall_seconds=1.0) as server:
            os.environ.update(env)
            os.environ["ALPHAVANTAGE_URL"] = server.url
            if moto_secret_arn:
                os.environ["ALPHAVANTAGE_SECRET_ARN"] = moto_secret_arn
            from runtime.ingest import handler as handler_module
            from tests.runtime.ingest.conftest import FakeClock, FakeLambdaContext

            symbols = env["SYMBOLS"].split(",")
            runs = {
                "smoke": ([], {"smoke": True, "symbols": [symbols[1]]}),
                "partial": ([symbols[0]], {}),
                "failed": (symbols, {}),
            }
            printed = []
            results = {}
            for label, (failing, event) in runs.items():
                clock = FakeClock()  # the pacing's minutes pass without waiting
                handler_module.clock = clock
                for symbol in failing:
                    server.always(symbol, "invalid_symbol")
                stdout = io.StringIO()
                recording = True
                with contextlib.redirect_stdout(stdout):
                    try:
                        results[label] = handler_module.handler(event, FakeLambdaContext(clock))
                    except Exception as error:
                        results[label] = {"raised": type(error).__name__}
                recording = False
                printed.append({"run": label, "stdout": stdout.getvalue()})
    with open(RESULT_FILE, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "printed": printed,
                "results": results,
                "operations": operations,
                "moto_secret_arn": moto_secret_arn,
            },
            handle,
            default=str,
        )


main()
