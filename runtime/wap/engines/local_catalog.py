"""The local stand-in for the Glue catalog on disk, and the one-writer lock of a local lake.

`{lake}/_catalog.json` is the catalog: read with a clear error when it is missing while
production data is on disk, unreadable or not shaped like a catalog (never silently
rebuilt, which would republish everything and lose rollback), and replaced whole with
os.replace (a reader sees the old catalog or the new one, never a part).

Kept generations, as Glue keeps table versions: each writer session (a `run`, a
`wap.job` step, a restore) saves the catalog it leaves behind under
`{lake}/_catalog_history/`, the newest KEEP_GENERATIONS of them. `restore_generation`
puts one back; `protects` tells the engine which version folders a kept generation still
points at, so pruning never takes what a restore needs.

One writer at a time: `writer_lock` holds an OS file lock (flock on `{lake}/_writer.lock`)
for a whole session and for every catalog write; it is re-entrant within a process. The OS
drops it when the holder dies, so a killed run never leaves the lake locked. Readers
(`query`, `report`) take no lock. POSIX only (fcntl): on Windows use WSL.

Local only: the Glue path never imports this module.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from runtime.files import write_text_atomically
from runtime.wap.config import PROD_TABLE, PUBLISHED_RUN_PROPERTY
from runtime.wap.engines.base import EngineError

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

CATALOG_FILE = "_catalog.json"
HISTORY_DIR = "_catalog_history"
LOCK_FILE = "_writer.lock"
#: Catalog generations kept for `catalog restore` (one per writer session that changed it).
KEEP_GENERATIONS = 10
#: How long a writer waits for another to release the lake before giving up.
DEFAULT_WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.05
_RESTORE_HINT = (
    "restore a kept generation with `python -m runtime.local catalog restore --data-dir {data}` "
    "(`catalog list --data-dir {data}` shows them)"
)


class CatalogError(EngineError):
    """The local catalog cannot be read or written; the message says how to recover."""


class LakeBusy(CatalogError):
    """Another process holds the lake's writer lock."""


@dataclass(frozen=True)
class Generation:
    """One kept catalog generation."""

    name: str
    path: Path
    saved_at: datetime
    tables: int
    published_run: str | None


def catalog_path(lake: Path) -> Path:
    return lake / CATALOG_FILE


# -- reading and writing ---------------------------------------------------------------


def catalog_key(lake: Path) -> tuple | None:
    """Changes whenever the catalog file is replaced (None while there is none)."""
    try:
        stat = catalog_path(lake).stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def read_catalog(lake: Path) -> dict[str, Any]:
    """The catalog; `{"tables": {}}` for a fresh lake. CatalogError when it is missing while
    production data is on disk, unreadable, or not a catalog."""
    path = catalog_path(lake)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if _holds_production_data(lake):
            raise CatalogError(_missing_message(lake)) from None
        return {"tables": {}}
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise CatalogError(
            f"local catalog {path} is unreadable ({reason}); {_hint(lake)}"
        ) from None
    return parse_catalog(text, path, lake)


def parse_catalog(text: str, path: Path, lake: Path) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise CatalogError(f"local catalog {path} is corrupt ({error}); {_hint(lake)}") from None
    problem = _shape_problem(data)
    if problem:
        raise CatalogError(f"local catalog {path} is not a catalog ({problem}); {_hint(lake)}")
    return data


def write_catalog(lake: Path, catalog: dict[str, Any]) -> None:
    """Replace the catalog atomically (under the writer lock); on failure it is unchanged."""
    text = json.dumps(catalog, indent=1, sort_keys=True)
    with writer_lock(lake):
        try:
            write_text_atomically(catalog_path(lake), text)
        except OSError as error:
            raise CatalogError(
                f"cannot write the local catalog {catalog_path(lake)} "
                f"({error.strerror or error}); it is unchanged"
            ) from None


def _shape_problem(data: Any) -> str | None:
    """What makes `data` not a catalog the engine can read, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("tables"), dict):
        return 'expected an object with a "tables" object'
    for name, entry in data["tables"].items():
        if not isinstance(entry, dict):
            return f"table {name} is not an object"
        expected = {
            "location": str,
            "columns": list,
            "partitions": dict,
            "files": list,
            "properties": dict,
        }
        for key, kind in expected.items():
            if not isinstance(entry.get(key), kind):
                return f"table {name}: {key} is missing or not a {kind.__name__}"
        if entry.get("partitioned_by") is not None and not isinstance(entry["partitioned_by"], str):
            return f"table {name}: partitioned_by is not a column name"
        if not all(isinstance(c, list) and len(c) == 2 for c in entry["columns"]):
            return f"table {name}: columns are not [name, type] pairs"
        for value, part in entry["partitions"].items():
            if not (
                isinstance(part, dict)
                and isinstance(part.get("location"), str)
                and isinstance(part.get("files"), list)
            ):
                return f"table {name}: partition {value} lacks its location or files"
    return None


def _holds_production_data(lake: Path) -> bool:
    prod = lake / "prod"
    has_files = prod.is_dir() and any(each.is_file() for each in prod.rglob("*"))
    return has_files or bool(list_generations(lake))


def _missing_message(lake: Path) -> str:
    where = catalog_path(lake)
    if list_generations(lake):
        return f"local catalog {where} is missing but {lake} holds published data; {_hint(lake)}"
    return (
        f"local catalog {where} is missing but {lake / 'prod'} holds published data, and no "
        "generation is kept to restore: put the catalog back from a backup, or rebuild the "
        f"lake from its raw zone: python -m runtime.local rebuild --data-dir {lake.parent}"
    )


def _hint(lake: Path) -> str:
    return _RESTORE_HINT.format(data=lake.parent)


# -- generations -----------------------------------------------------------------------


def list_generations(lake: Path) -> list[Generation]:
    """The kept generations, newest first."""
    history = lake / HISTORY_DIR
    if not history.is_dir():
        return []
    generations = []
    for path in sorted(history.glob("*.json"), reverse=True):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            saved_at = datetime.strptime(path.stem, "%Y%m%dT%H%M%S%fZ")
        except (OSError, ValueError):
            continue  # not one of ours, or damaged: never offered for restore
        if _shape_problem(data):
            continue
        prod = data["tables"].get(PROD_TABLE, {})
        generations.append(
            Generation(
                name=path.stem,
                path=path,
                saved_at=saved_at.replace(tzinfo=timezone.utc),
                tables=len(data["tables"]),
                published_run=prod.get("properties", {}).get(PUBLISHED_RUN_PROPERTY),
            )
        )
    return generations


def save_generation(lake: Path) -> Generation | None:
    """Keep the current catalog as a generation (unless the newest already is it), and
    delete generations beyond KEEP_GENERATIONS."""
    try:
        text = catalog_path(lake).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    parse_catalog(text, catalog_path(lake), lake)
    kept = list_generations(lake)
    if kept and kept[0].path.read_text(encoding="utf-8") == text:
        return kept[0]
    moment = datetime.now(timezone.utc)
    if kept and moment <= kept[0].saved_at:  # the clock went back: still sort after the newest
        moment = kept[0].saved_at + timedelta(microseconds=1)
    name = f"{moment:%Y%m%dT%H%M%S%f}Z"
    try:
        write_text_atomically(lake / HISTORY_DIR / f"{name}.json", text)
        for old in list_generations(lake)[KEEP_GENERATIONS:]:
            old.path.unlink()
    except OSError as error:
        raise CatalogError(
            f"cannot keep a generation of the local catalog in {lake / HISTORY_DIR} "
            f"({error.strerror or error})"
        ) from None
    return list_generations(lake)[0]


def restore_generation(lake: Path, name: str | None = None) -> Generation:
    """Make generation `name` (default: the newest) the catalog again, after keeping the
    current catalog as a generation (or, when it is unreadable, next to it as
    `_catalog.json.damaged-<time>`), so a restore can itself be undone."""
    with writer_lock(lake):
        kept = list_generations(lake)
        if not kept:
            raise CatalogError(f"no catalog generation is kept in {lake / HISTORY_DIR}")
        chosen = kept[0] if name is None else next((g for g in kept if g.name == name), None)
        if chosen is None:
            newest = ", ".join(g.name for g in kept[:3])
            raise CatalogError(
                f"no catalog generation {name!r} in {lake / HISTORY_DIR} (newest: {newest})"
            )
        text = chosen.path.read_text(encoding="utf-8")
        missing = _missing_files(lake, json.loads(text))
        if missing:
            raise CatalogError(
                f"generation {chosen.name} points at {len(missing)} missing files "
                f"(first: {missing[0]}): choose another one"
            )
        try:
            save_generation(lake)
        except CatalogError:
            damaged = catalog_path(lake)
            stamp = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}Z"
            os.replace(damaged, damaged.with_name(f"{CATALOG_FILE}.damaged-{stamp}"))
        try:
            write_text_atomically(catalog_path(lake), text)
        except OSError as error:
            raise CatalogError(
                f"cannot write the local catalog {catalog_path(lake)} ({error.strerror or error})"
            ) from None
        return chosen


def _missing_files(lake: Path, catalog: dict[str, Any]) -> list[str]:
    """Data files a catalog's tables point at that are gone (staging tables aside: their
    data is dropped by the next run anyway)."""
    missing = []
    for name, entry in sorted(catalog["tables"].items()):
        if "_staging_" in name:
            continue
        files = list(entry["files"])
        files += [f for part in entry["partitions"].values() for f in part["files"]]
        missing += [f for f in files if not (lake / f).is_file()]
    return missing


def protects(lake: Path, relative: str) -> bool:
    """Whether a kept generation points inside the folder `relative` ("prod/x/<version>/"),
    other than at a table's own location (staging data, dropped with its table)."""
    for references, locations in _kept_references(lake):
        if relative in locations:
            continue
        if any(ref.startswith(relative) and ref != relative for ref in references):
            return True
    return False


_references_cache: dict[Path, tuple] = {}


def _kept_references(lake: Path) -> list[tuple]:
    """(every location, file and property a generation names, its table locations) per
    kept generation; generations never change, so their names key the cache."""
    generations = list_generations(lake)
    key = tuple(g.name for g in generations)
    cached = _references_cache.get(lake)
    if cached is not None and cached[0] == key:
        return cached[1]
    kept = []
    for generation in generations:
        tables = json.loads(generation.path.read_text(encoding="utf-8"))["tables"].values()
        references = set()
        for entry in tables:
            references.update(entry["files"])
            for part in entry["partitions"].values():
                references.add(part["location"])
                references.update(part["files"])
            references.update(v for v in entry["properties"].values() if isinstance(v, str))
        kept.append((references, {entry["location"] for entry in tables}))
    _references_cache[lake] = (key, kept)
    return kept


# -- the writer lock -------------------------------------------------------------------

_held: dict[Path, list[int]] = {}  # lake -> [file descriptor, depth]
_held_guard = threading.RLock()


@contextmanager
def writer_lock(
    lake: Path,
    command: str = "a catalog write",
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    keep_generation: bool = False,
) -> Iterator[None]:
    """Hold the lake's writer lock (re-entrant in this process). Another process's holder
    makes this wait up to `wait_seconds`, then raise LakeBusy naming it. With
    `keep_generation`, the catalog left behind is kept as a generation on release."""
    lake = Path(lake).resolve()
    with _held_guard:
        held = _held.get(lake)
        if held is not None:
            held[1] += 1
        else:
            _held[lake] = [_acquire(lake, command, wait_seconds), 1]
    try:
        yield
        if keep_generation:
            save_generation(lake)
    finally:
        with _held_guard:
            held = _held[lake]
            held[1] -= 1
            if held[1] == 0:
                del _held[lake]
                os.close(held[0])  # closing the descriptor releases the flock


def _acquire(lake: Path, command: str, wait_seconds: float) -> int:
    if fcntl is None:
        raise CatalogError("the local lake's writer lock needs a POSIX system (use WSL)")
    path = lake / LOCK_FILE
    try:
        lake.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise CatalogError(f"cannot lock the lake {lake} ({error.strerror or error})") from None
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _holder(path)
                os.close(descriptor)
                raise LakeBusy(
                    f"another writer holds the lake {lake} ({holder}); waited "
                    f"{wait_seconds:g} s: try again when it has finished"
                ) from None
            time.sleep(_POLL_SECONDS)
    holder = {
        "pid": os.getpid(),
        "started": f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}",
        "command": command,
    }
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, json.dumps(holder).encode(), 0)
    return descriptor


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {holder['pid']}, {holder['command']}, started {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid is not recorded yet"
