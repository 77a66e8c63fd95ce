"""A stand-in for Lambda's (and Glue's) execution environment, for the artifact tests.

Lambda runs the handler from the unpacked zip (/var/task) with the Powertools layer and
the runtime's own boto3 behind it on sys.path, and nothing else. Here: the unpacked
artifact, then a directory of links to exactly those packages in the test venv, in a
fresh interpreter started with `-I -S` (standard library only until the child puts the
two directories first on sys.path).
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import boto3

SITE_PACKAGES = Path(boto3.__file__).resolve().parent.parent
# What the Lambda Python 3.12 runtime (boto3 and its dependencies) and AWS's Powertools
# layer (Powertools and its dependencies) put on sys.path. requests is not among them.
LAMBDA_PROVIDED = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "six.py",
    "urllib3",
    "aws_lambda_powertools",
    "typing_extensions.py",
)
# A fresh interpreter that sees neither site-packages nor PYTHON* variables.
ISOLATED_PYTHON = (sys.executable, "-I", "-S")


# What Glue's Python shell provides that the write-audit-publish job uses: boto3 and its
# dependencies (Glue ships more libraries; the job's production path needs none of them).
GLUE_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")


def provided_dir(target: Path, names: tuple[str, ...] = LAMBDA_PROVIDED) -> Path:
    """Create `target` holding only `names` (default: what Lambda and the Powertools layer
    provide), linked from the test venv."""
    target.mkdir(parents=True)
    for name in names:
        source = SITE_PACKAGES / name
        if not source.exists():
            raise FileNotFoundError(f"{name} is not installed in {SITE_PACKAGES}")
        (target / name).symlink_to(source)
    return target


def unpack(artifact: Path, target: Path) -> Path:
    """Extract the zip into the empty directory `target`, as Lambda does into /var/task."""
    target.mkdir(parents=True)
    with zipfile.ZipFile(artifact) as archive:
        archive.extractall(target)
    return target
