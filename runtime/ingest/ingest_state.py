"""Small JSON documents every ingestion run shares: the day's call count, when each split
record was fetched. Safe under concurrent runs, in S3 or in the local lake.

An update is read, change, write-if-unchanged, repeated when another run wrote in between:
in S3 a conditional PUT (`If-Match` on the ETag read, `If-None-Match: *` to create), which
S3 refuses with 412 Precondition Failed (or 409 ConditionalRequestConflict for a racing
write) when the object changed; locally an exclusive `flock` around the read and the
atomic write.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html

The function may read and write `ingest_state/*` but not list the bucket, and without
s3:ListBucket S3 answers a missing object with 403 rather than 404
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html): a 403 is told
apart from a real denial by creating the document empty with `If-None-Match: *`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from runtime.files import write_text_atomically

STATE_PREFIX = "ingest_state/"
#: Writes lost to other runs before an update gives up.
MAX_UPDATE_ATTEMPTS = 8
_RACE_CODES = ("PreconditionFailed", "ConditionalRequestConflict")
_ABSENT_CODES = ("NoSuchKey", "404")

Document = dict[str, Any]
#: Returns the new document, or None to leave it as it is.
Change = Callable[[Document], Document | None]


class StateError(Exception):
    """A state document could not be read or written."""


class StateStore(Protocol):
    def read(self, name: str) -> Document:
        """The document (empty when there is none yet)."""
        ...

    def update(self, name: str, change: Change) -> Document:
        """Apply `change` atomically; return the document as stored afterwards."""
        ...


class LocalStateStore:
    """Documents as files under a directory of the local lake, one lock for all of them."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def read(self, name: str) -> Document:
        with self._locked():
            return self._load(name)

    def update(self, name: str, change: Change) -> Document:
        with self._locked():
            document = self._load(name)
            changed = change(document)
            if changed is None:
                return document
            write_text_atomically(self._directory / name, json.dumps(changed, sort_keys=True))
            return changed

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            # flock locks belong to the open file: threads and processes alike take turns.
            with open(self._directory / ".lock", "a", encoding="utf-8") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                yield
        except OSError as error:
            raise StateError(f"could not use {self._directory}: {error}") from None

    def _load(self, name: str) -> Document:
        path = self._directory / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise StateError(f"could not read {path}: {error}") from None


class S3StateStore:
    """Documents as objects under `prefix` in the data bucket, written conditionally."""

    def __init__(
        self,
        bucket: str,
        prefix: str = STATE_PREFIX,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._client = client or boto3.client("s3")
        self._sleep = sleep

    def read(self, name: str) -> Document:
        return self._get(name)[0]

    def update(self, name: str, change: Change) -> Document:
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            if attempt:
                self._sleep(0.05 * 2**attempt)  # another run wrote in between: let it finish
            document, etag = self._get(name)
            changed = change(document)
            if changed is None:
                return document
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            if self._put(name, changed, condition):
                return changed
        raise StateError(
            f"{self._location(name)} kept changing: {MAX_UPDATE_ATTEMPTS} attempts to update it"
        )

    def _get(self, name: str) -> tuple[Document, str | None]:
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=self._prefix + name)
            return json.loads(answer["Body"].read()), answer["ETag"]
        except ClientError as error:
            code = _code(error)
            if code in _ABSENT_CODES:
                return {}, None
            if code != "AccessDenied" or not self._put(name, {}, {"IfNoneMatch": "*"}):
                raise StateError(f"could not read {self._location(name)}: {error}") from None
            return self._get(name)  # it was missing: created empty just now
        except (BotoCoreError, ValueError) as error:
            raise StateError(f"could not read {self._location(name)}: {error}") from None

    def _put(self, name: str, document: Document, condition: dict[str, str]) -> bool:
        """True when written; False when the condition failed (another run wrote first)."""
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._prefix + name,
                Body=json.dumps(document, sort_keys=True).encode("utf-8"),
                ContentType="application/json",
                **condition,
            )
        except ClientError as error:
            if _code(error) in _RACE_CODES:
                return False
            raise StateError(f"could not write {self._location(name)}: {error}") from None
        except BotoCoreError as error:
            raise StateError(f"could not write {self._location(name)}: {error}") from None
        return True

    def _location(self, name: str) -> str:
        return f"s3://{self._bucket}/{self._prefix}{name}"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
