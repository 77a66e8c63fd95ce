"""The Alpha Vantage key: from the environment (local use) or from Secrets Manager.

The secret is read through Powertools' parameters utility, which caches it in the
execution environment: a warm Lambda does not call Secrets Manager again, and a
rotated key is picked up within SECRET_MAX_AGE_SECONDS (or at once after the API
rejected the cached key, see `forget_cached_key`).
"""

from __future__ import annotations

import json
import logging

from aws_lambda_powertools.utilities import parameters

from runtime.ingest.errors import ApiKeyUnavailable
from runtime.ingest.settings import Settings

# A scheduled run is a cold start almost every time; an hour bounds how long a warm
# environment keeps using a key that was rotated in the meantime.
SECRET_MAX_AGE_SECONDS = 3600
SECRET_JSON_FIELD = "api_key"  # noqa: S105 (a field name, not a secret)

# botocore logs whole response bodies (the secret value included) at DEBUG.
logging.getLogger("botocore.parsers").setLevel(logging.INFO)


def resolve_api_key(settings: Settings) -> str:
    """The key itself. Raises ApiKeyUnavailable naming the source, never the value."""
    if settings.api_key:
        return settings.api_key
    if not settings.secret_arn:
        raise ApiKeyUnavailable("no API key configured")
    try:
        value = parameters.get_secret(settings.secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
    except parameters.GetParameterError as error:
        raise ApiKeyUnavailable(
            f"could not read the API key from secret {settings.secret_arn}: {error}"
        ) from None
    return _key_from_secret(value, settings.secret_arn)


def forget_cached_key() -> None:
    """Drop cached secrets so the next run reads Secrets Manager again (e.g. after rotation)."""
    parameters.clear_caches()


def _key_from_secret(value: str | bytes | dict, arn: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ApiKeyUnavailable(
                f"secret {arn} looks like JSON but does not parse; store the key as plain "
                f'text or as {{"{SECRET_JSON_FIELD}": "..."}}'
            ) from None
    if isinstance(value, dict):
        value = value.get(SECRET_JSON_FIELD)
        if not isinstance(value, str):
            raise ApiKeyUnavailable(
                f'secret {arn} is JSON without a string field "{SECRET_JSON_FIELD}"'
            )
    key = value.strip() if isinstance(value, str) else ""
    if not key:
        raise ApiKeyUnavailable(f"secret {arn} is empty")
    return key
