"""The data lake bucket and its guards, under mocks."""

from __future__ import annotations

import pytest

from components.storage import DataLake, DataLakeArgs

S3 = "aws:s3/"


@pytest.fixture
def lake(build):
    return build(lambda: DataLake("lake", DataLakeArgs()))


def test_the_bucket_is_private_encrypted_and_owner_enforced(lake):
    bucket = lake.one(f"{S3}bucket:Bucket").outputs["bucket"]
    guards = [
        lake.inputs(f"{S3}bucketPublicAccessBlock:BucketPublicAccessBlock"),
        lake.inputs(f"{S3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"),
        lake.inputs(f"{S3}bucketOwnershipControls:BucketOwnershipControls"),
    ]  # fmt: skip
    public_access, encryption, ownership = guards

    assert {guard["bucket"] for guard in guards} == {bucket}
    assert {k: v for k, v in public_access.items() if k != "bucket"} == {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert encryption["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
    ]
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_the_bucket_policy_refuses_every_request_without_tls(lake):
    arn = lake.one(f"{S3}bucket:Bucket").outputs["arn"]

    (statement,) = lake.policy(f"{S3}bucketPolicy:BucketPolicy")["Statement"]

    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_versions_and_throwaway_prefixes_expire(lake):
    versioning = lake.inputs(f"{S3}bucketVersioning:BucketVersioning")
    rules = {
        rule["id"]: rule
        for rule in lake.inputs(f"{S3}bucketLifecycleConfiguration:BucketLifecycleConfiguration")[
            "rules"
        ]
    }

    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    assert {rule["status"] for rule in rules.values()} == {"Enabled"}
    assert rules["expire-query_results"]["filter"] == {"prefix": "query_results/"}
    assert rules["expire-query_results"]["expiration"] == {"days": 7}
    assert rules["expire-staging"]["filter"] == {"prefix": "staging/"}
    assert rules["expire-staging"]["expiration"] == {"days": 3}
    everything = rules["noncurrent-versions-and-uploads"]
    # Every object, said explicitly: an empty filter draws the provider's "will be an
    # error in a future version" warning.
    assert everything["filter"] == {"prefix": ""}
    assert everything["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert everything["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}
    assert everything["expiration"] == {"expiredObjectDeleteMarker": True}
    # Nothing expires raw, published or code objects themselves.
    assert not any(
        rule["filter"].get("prefix", "").startswith(("raw", "prod", "artifacts"))
        for rule in rules.values()
    )


def test_an_unprotected_lake_can_be_destroyed_with_its_objects(lake):
    bucket = lake.one(f"{S3}bucket:Bucket")

    assert bucket.inputs["forceDestroy"] is True
    assert (bucket.protect, bucket.retain_on_delete) == (False, False)


def test_a_protected_lake_survives_destroy_and_removal(build):
    lake = build(lambda: DataLake("lake", DataLakeArgs(protect_data=True)))

    bucket = lake.one(f"{S3}bucket:Bucket")

    assert bucket.inputs["forceDestroy"] is False
    assert (bucket.protect, bucket.retain_on_delete) == (True, True)


def test_every_guard_is_a_child_of_the_component(lake):
    (component,) = lake.of_type("stockpipe:index:DataLake")

    children = lake.children_of(component)

    assert len(children) == len(lake.resources) - 1 == 7
    assert all(child.name.startswith("lake-") for child in children)
