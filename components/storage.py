"""The data lake: one private, encrypted, versioned S3 bucket and the prefixes the runtime uses.

Prefixes are constants so every component (IAM scopes, Firehose, Glue) names the same
place the runtime writes to.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam

RAW_PREFIX = "raw/"
RAW_FIREHOSE_PREFIX = "raw_firehose/"
# Split records beside raw/ (never inside it: the raw layout check takes price objects only).
RAW_SPLITS_PREFIX = "raw_splits/"
# Small documents every ingestion run shares (runtime/ingest/ingest_state.py): the day's call
# count under api_calls/, the day each split record was last fetched.
INGEST_STATE_PREFIX = "ingest_state/"
CALL_COUNTS_PREFIX = f"{INGEST_STATE_PREFIX}api_calls/"
RAW_FIREHOSE_ERRORS_PREFIX = "raw_firehose_errors/"
# A smoke run's object (`make smoke`), apart from the raw zone the workflow consumes.
SMOKE_PREFIX = "smoke/"
STAGING_PREFIX = "staging/"
PROD_PREFIX = "prod/"
QUERY_RESULTS_PREFIX = "query_results/"
ARTIFACTS_PREFIX = "artifacts/"

# Query results are throwaway; staging is rebuilt by every write-audit-publish run.
QUERY_RESULTS_EXPIRY_DAYS = 7
STAGING_EXPIRY_DAYS = 3
# A day's call count matters for that UTC day only.
CALL_COUNTS_EXPIRY_DAYS = 7
# Publishing deletes superseded objects; on a versioned bucket that leaves noncurrent
# versions, kept this long for recovery and then removed.
NONCURRENT_VERSION_EXPIRY_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 1


@dataclass
class DataLakeArgs:
    # Protect the bucket from `pulumi destroy` and keep it if removed from the program;
    # off, `destroy` empties and deletes it (force_destroy).
    protect_data: bool = False


class DataLake(pulumi.ComponentResource):
    """The lake bucket with its guards: public-access block, encryption, TLS, versioning."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DataLakeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stockpipe:index:DataLake", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=not args.protect_data,
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect_data, retain_on_delete=args.protect_data
            ),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=iam.document(
                iam.deny_insecure_transport(
                    [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")], "s3:*"
                )
            ),
            # S3 refuses a bucket policy while the public-access block is being written.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                _expire(QUERY_RESULTS_PREFIX, QUERY_RESULTS_EXPIRY_DAYS),
                _expire(STAGING_PREFIX, STAGING_EXPIRY_DAYS),
                _expire(CALL_COUNTS_PREFIX, CALL_COUNTS_EXPIRY_DAYS),
                {
                    "id": "noncurrent-versions-and-uploads",
                    "status": "Enabled",
                    # Every object: an empty filter draws the provider's warning that it will
                    # be an error in a future version; the empty prefix is the documented form.
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {
                        "noncurrent_days": NONCURRENT_VERSION_EXPIRY_DAYS
                    },
                    "expiration": {"expired_object_delete_marker": True},
                    "abort_incomplete_multipart_upload": {
                        "days_after_initiation": INCOMPLETE_UPLOAD_DAYS
                    },
                },
            ],
            # Lifecycle rules on noncurrent versions need versioning in place first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})


def _expire(prefix: str, days: int) -> dict:
    return {
        "id": f"expire-{prefix.rstrip('/').replace('/', '-')}",
        "status": "Enabled",
        "filter": {"prefix": prefix},
        "expiration": {"days": days},
    }
