"""The policy-document builders."""

from __future__ import annotations

import json

import pulumi
import pytest

from components import iam


def resolved(output: pulumi.Output) -> object:
    """An Output's value (under the mocks, outputs of plain values resolve at once)."""
    values = []

    @pulumi.runtime.test
    def read():
        return output.apply(values.append)

    read()
    return values[0]


def test_a_document_holds_the_statements_with_outputs_resolved():
    arn = pulumi.Output.from_input("arn:aws:s3:::lake")

    text = resolved(
        iam.document(iam.allow(["s3:PutObject"], [iam.objects_under(arn, "raw/")], sid="Raw"))
    )

    assert json.loads(text) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Raw",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": ["arn:aws:s3:::lake/raw/*"],
            }
        ],
    }


@pytest.mark.parametrize("actions", [["s3:*"], ["*"], ["s3:Put*"], []])
def test_wildcard_or_missing_actions_are_refused(actions):
    with pytest.raises(ValueError, match="name each action explicitly"):
        iam.allow(actions, ["arn:aws:s3:::lake"])


def test_a_statement_without_resources_is_refused():
    with pytest.raises(ValueError, match="at least one resource"):
        iam.allow(["s3:GetObject"], [])


def test_a_prefix_must_end_with_a_slash():
    # "raw" would also grant raw_firehose/ and raw_firehose_errors/.
    with pytest.raises(ValueError, match="ends with '/'"):
        iam.objects_under("arn:aws:s3:::lake", "raw")


def test_log_stream_pattern_and_trust_policy_with_source_account():
    streams = resolved(iam.log_streams_of("arn:aws:logs:us-east-1:1:log-group:g"))
    trust = json.loads(
        resolved(
            iam.assume_role_policy("scheduler.amazonaws.com", iam.from_account("111122223333"))
        )
    )

    assert streams == "arn:aws:logs:us-east-1:1:log-group:g:log-stream:*"
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
        }
    ]
