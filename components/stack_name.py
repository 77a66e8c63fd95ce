"""The names derived from the stack name, each checked against its own AWS rule at preview.

A Pulumi stack name may hold upper-case letters, `_`, `.` and up to 100 characters; the
names the stack derives from it may not. Each check below rebuilds one derived name the
longest way the components build it (auto-names add a dash and 7 hex characters) and
tells which rule it breaks, so a bad name fails `pulumi preview` with one line each instead
of a resource failing half-way through `pulumi up`. The Glue database name is derived so
that it always fits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Pulumi's auto-names append "-" and 7 hex characters to the resource name.
AUTO_NAME_SAMPLE = "-0123abc"
# The longest role resource name after "<project>-<stack>" (the ingestion function's; the
# schedule's and Firehose's are as long). Grafana's workspace role is two characters
# longer, but with Grafana its uids bound the stack name far below that.
LONGEST_ROLE_SUFFIX = "-ingest-function-role"
BUCKET_SUFFIX = "-lake-bucket"
# The Athena data source's uid (the dashboard's `-grafana-prices` is as long).
GRAFANA_UID_SUFFIX = "-grafana-athena"


@dataclass(frozen=True)
class NameRule:
    what: str
    suffix: str
    max_length: int
    pattern: re.Pattern[str]
    allowed: str
    page: str


# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (dots are
# allowed there but break TLS for virtual-hosted-style requests, so they are refused here).
BUCKET_RULE = NameRule(
    "S3 bucket name", BUCKET_SUFFIX + AUTO_NAME_SAMPLE, 63,
    re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"), "lowercase letters, digits and '-'",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
)  # fmt: skip
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
ROLE_RULE = NameRule(
    "IAM role name", LONGEST_ROLE_SUFFIX + AUTO_NAME_SAMPLE, 64,
    re.compile(r"^[\w+=,.@-]+$"), "letters, digits and +=,.@_-",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html",
)  # fmt: skip
GRAFANA_UID_RULE = NameRule(
    "Grafana uid", GRAFANA_UID_SUFFIX, 40, re.compile(r"^[a-zA-Z0-9_-]+$"),
    "letters, digits, '-' and '_'",
    "https://grafana.com/docs/grafana/latest/developers/http_api/data_source/",
)  # fmt: skip


def database_name(project: str, stack: str) -> str:
    """The Glue database of a stack: `<project>_<stack>` with every character Athena does
    not take in a database name made '_' (and upper case lower), so any stack name gives
    a usable one: https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html"""
    return re.sub(r"[^a-z0-9_]", "_", f"{project}_{stack}".lower())


def stack_name_problems(project: str, stack: str, *, grafana: bool) -> list[str]:
    """What each name derived from `stack` would break, one line per broken rule."""
    rules = [BUCKET_RULE, ROLE_RULE] + ([GRAFANA_UID_RULE] if grafana else [])
    problems = []
    for rule in rules:
        name = f"{project}-{stack}{rule.suffix}"
        longest = rule.max_length - len(f"{project}-{rule.suffix}")
        if len(name) > rule.max_length:
            problems.append(
                f"stack name {stack!r} is too long: the {rule.what} {name!r} would have "
                f"{len(name)} characters, more than {rule.max_length} ({rule.page}); "
                f"use a stack name of at most {longest} characters"
            )
        elif not rule.pattern.match(name):
            problems.append(
                f"stack name {stack!r} does not fit the {rule.what} {name!r}, which takes "
                f"{rule.allowed} only ({rule.page}); use a stack name of those characters"
            )
    return problems
