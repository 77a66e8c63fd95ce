"""A small IAM evaluator for the contract tests: does a policy allow an action on a resource?

It covers what the stack's identity policies use: Allow and Deny statements with
`Action` and `Resource` lists, `*` and `?` wildcards (actions case-insensitive,
resources case-sensitive), an explicit Deny winning, and `StringEquals` conditions
evaluated against the request's context keys (a key the request lacks does not match,
as in IAM). Anything else (NotAction, NotResource, Principal, another condition
operator) is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

SUPPORTED_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition"}
SUPPORTED_OPERATORS = {"StringEquals"}


def allows(
    policy: dict[str, Any], action: str, resource: str, context: Mapping[str, str] | None = None
) -> bool:
    """True when some statement allows `action` on `resource` and none denies it."""
    allowed = False
    for statement in policy["Statement"]:
        unsupported = set(statement) - SUPPORTED_KEYS
        if unsupported:
            raise NotImplementedError(f"the matcher does not evaluate {sorted(unsupported)}")
        if not matches(statement, action, resource, context):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def matches(
    statement: dict[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
) -> bool:
    """Whether one statement's actions, resources and conditions cover the request."""
    return (
        any(fnmatchcase(action.lower(), p.lower()) for p in _listed(statement["Action"]))
        and any(fnmatchcase(resource, pattern) for pattern in _listed(statement["Resource"]))
        and _conditions_hold(statement.get("Condition", {}), context or {})
    )


def _conditions_hold(conditions: dict[str, Any], context: Mapping[str, str]) -> bool:
    unsupported = set(conditions) - SUPPORTED_OPERATORS
    if unsupported:
        raise NotImplementedError(f"the matcher does not evaluate Condition {sorted(unsupported)}")
    return all(
        key in context and context[key] in _listed(values)
        for operator in conditions.values()
        for key, values in operator.items()
    )


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
