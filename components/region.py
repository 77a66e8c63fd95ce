"""The stack's AWS region (`aws:region`): required, and checked against the regions the
pinned pulumi-aws knows.

The provider's list lags new AWS regions, so a region it does not know is a warning (with
the closest known name, for a typo such as us-east1), not an error: a region newer than
the list deploys as it is.
"""

from __future__ import annotations

import difflib

import pulumi
import pulumi_aws as aws

KEY = "aws:region"


def known_regions() -> tuple[str, ...]:
    return tuple(sorted(region.value for region in aws.Region))


def unknown_region_warning(region: str) -> str | None:
    """What to tell the user about a region pulumi-aws does not list, or None."""
    known = known_regions()
    if region in known:
        return None
    close = difflib.get_close_matches(region, known, n=1, cutoff=0.8)
    hint = f"did you mean {close[0]}? " if close else ""
    return (
        f"{KEY}={region!r} is not a region this pulumi-aws knows; {hint}"
        f"if it is an AWS region newer than the provider's list, nothing to do: the deploy "
        f"goes on with it; otherwise fix it: pulumi config set {KEY} <region>"
    )


def read_region() -> str:
    """`aws:region`, refused when missing or empty, warned about when unknown."""
    region = (pulumi.Config("aws").get("region") or "").strip()
    if not region:
        raise pulumi.RunError(f"{KEY} is required: pulumi config set {KEY} us-east-1")
    warning = unknown_region_warning(region)
    if warning:
        pulumi.log.warn(warning)
    return region
