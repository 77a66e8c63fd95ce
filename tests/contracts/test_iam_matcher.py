"""The contract tests' IAM matcher decides like IAM on the cases it claims to cover."""

from __future__ import annotations

import pytest

from tests.contracts.iam_matcher import allows

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::lake/raw/*"]},
        {"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:r:1:log-group:g:*"},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::lake/raw/locked/*"},
    ],
}


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("s3:PutObject", "arn:aws:s3:::lake/raw/dt=2024-06-10/NVDA.csv", True),
        ("S3:putobject", "arn:aws:s3:::lake/raw/x.csv", True),  # actions ignore case
        ("s3:PutObject", "arn:aws:s3:::lake/RAW/x.csv", False),  # resources do not
        ("s3:PutObject", "arn:aws:s3:::lake/raw_firehose/x.csv", False),
        ("s3:PutObject", "arn:aws:s3:::lake-other/raw/x.csv", False),
        ("s3:GetObject", "arn:aws:s3:::lake/raw/x.csv", False),
        ("s3:PutObject", "arn:aws:s3:::lake/raw/locked/x.csv", False),  # explicit deny wins
        ("logs:PutLogEvents", "arn:aws:logs:r:1:log-group:g:log-stream:s", True),
        ("logs:PutLogEvents", "arn:aws:logs:r:1:log-group:gg:log-stream:s", False),
    ],
)
def test_the_matcher_decides_like_iam(action, resource, expected):
    assert allows(POLICY, action, resource) is expected


def test_a_string_equals_condition_holds_only_for_the_request_that_carries_the_value():
    conditional = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": "stockpipe/dev"}},
            }
        ]
    }

    def decide(context):
        return allows(conditional, "cloudwatch:PutMetricData", "*", context)

    assert decide({"cloudwatch:namespace": "stockpipe/dev"}) is True
    assert decide({"cloudwatch:namespace": "stockpipe/prod"}) is False
    assert decide({}) is False  # a request without the key does not match


def test_a_condition_it_cannot_evaluate_is_refused_rather_than_ignored():
    conditional = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ]
    }
    with pytest.raises(NotImplementedError, match="Condition"):
        allows(conditional, "s3:PutObject", "arn:aws:s3:::lake/raw/x")
