"""The function's role allows every AWS call the handler makes, and nothing it does not need."""

from __future__ import annotations

import json

import pytest

from components.plan import ACCOUNT_ID, REGION
from tests.contracts.iam_matcher import allows, matches

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def iam_request(operation: dict) -> tuple[str, str]:
    """The IAM action and resource ARN one recorded API call is authorised against."""
    service, name, params = operation["service"], operation["operation"], operation["params"]
    if (service, name) in (("s3", "PutObject"), ("s3", "GetObject")):
        return f"s3:{name}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}"
    if (service, name) == ("secretsmanager", "GetSecretValue"):
        return "secretsmanager:GetSecretValue", params["SecretId"]
    if (service, name) == ("firehose", "PutRecordBatch"):
        stream = params["DeliveryStreamName"]
        return (
            "firehose:PutRecordBatch",
            f"arn:aws:firehose:{REGION}:{ACCOUNT_ID}:deliverystream/{stream}",
        )
    raise AssertionError(f"the handler calls {service}:{name}: map it to its IAM action here")


def function_policy(runs) -> dict:
    return json.loads(runs.graph.inputs(ROLE_POLICY, "function-policy")["policy"])


def requests_made(runs) -> list[tuple[str, str]]:
    """The handler's calls, with moto's secret ARN read as the stack's (AWS picks the suffix)."""
    stack_secret = runs.environment["ALPHAVANTAGE_SECRET_ARN"]
    made = []
    for operation in runs.operations:
        action, resource = iam_request(operation)
        made.append((action, stack_secret if resource == runs.moto_secret_arn else resource))
    return made


# Granted for what AWS does on the function's behalf, not for calls in our code
# (README, Deploying with Pulumi: IAM).
JUSTIFIED = {
    "logs:CreateLogStream": "the Lambda runtime writes the function's output to its log group",
    "logs:PutLogEvents": "the Lambda runtime writes the function's output to its log group",
    "sqs:SendMessage": "Lambda sends a failed asynchronous run to the on-failure destination",
    "events:PutEvents": "Lambda sends a successful run's record to the on-success destination",
}


@pytest.mark.parametrize("sink", ["s3", "firehose"])
def test_every_call_the_handler_makes_is_allowed(deployed, sink):
    runs = deployed(sink)
    policy = function_policy(runs)

    made = requests_made(runs)

    # Both sinks read and write the day's call count and land split records in S3 (a smoke
    # run's object too).
    expected_actions = {
        "s3": {"secretsmanager:GetSecretValue", "s3:GetObject", "s3:PutObject"},
        "firehose": {
            "secretsmanager:GetSecretValue",
            "firehose:PutRecordBatch",
            "s3:GetObject",
            "s3:PutObject",
        },
    }[sink]
    assert {action for action, _ in made} == expected_actions
    assert [request for request in made if not allows(policy, *request)] == []


@pytest.mark.parametrize("sink", ["s3", "firehose"])
def test_the_policy_grants_nothing_the_code_does_not_use(deployed, sink):
    runs = deployed(sink)
    policy = function_policy(runs)
    made = requests_made(runs)

    unused = [
        (action, statement["Resource"])
        for statement in policy["Statement"]
        for action in statement["Action"]
        if action not in JUSTIFIED
        and not any(
            made_action == action and matches(statement, action, resource)
            for made_action, resource in made
        )
    ]

    assert unused == []
    assert {a for s in policy["Statement"] for a in s["Action"]} & set(JUSTIFIED) == set(JUSTIFIED)


def test_the_function_cannot_touch_other_zones_or_secrets(deployed):
    runs = deployed("s3")
    policy = function_policy(runs)
    bucket = runs.environment["DATA_BUCKET"]

    for key in ("raw_firehose/x.json", "staging/x", "prod/daily_prices/x.parquet", "artifacts/x"):
        assert not allows(policy, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")
    for action in ("s3:GetObject", "s3:DeleteObject", "s3:ListBucket"):
        assert not allows(policy, action, f"arn:aws:s3:::{bucket}/raw/x.csv")
        assert not allows(policy, action, f"arn:aws:s3:::{bucket}/raw_splits/x.csv")
    assert not allows(policy, "s3:GetObject", f"arn:aws:s3:::{bucket}/prod/x.parquet")
    assert not allows(policy, "s3:DeleteObject", f"arn:aws:s3:::{bucket}/ingest_state/x.json")
    assert not allows(policy, "s3:ListBucket", f"arn:aws:s3:::{bucket}")
    other_secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:other-AbCdEf"
    assert not allows(policy, "secretsmanager:GetSecretValue", other_secret)
