"""The raw zone as the steps see it: which objects there are, which a run has not consumed
yet, and which no raw table reads where they are.

Both raw tables are partitioned by `dt=YYYY-MM-DD` folders, one flat level each, as the
ingestion and Firehose write them. Names starting with `.` or `_` are hidden (Athena skips
them; the local sink's temporary files look like that). Anything else that is not a readable
object of a real, non-future `dt` folder is *misplaced*: a folder Athena's partition
projection never lists, an object outside a `dt` folder, or one nested below a `dt` folder or
not in the table's format (Athena reads those when it reads the folder whole, the local
engine does not; either way they are not raw data as ingestion lands it). So is an object a
run reads no row from (a `dt` outside the projection's range, an empty object). The audit's
`raw_layout` check fails on every one of them until someone moves or removes it, so such data
is never skipped in silence.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

from runtime.wap import queries
from runtime.wap.config import RAW_TABLE, RAW_TABLES
from runtime.wap.engines.base import Engine, StoredObject

_DT_FOLDER = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
#: What a readable object's name must end with, per table ("" means any name).
_NAME_SUFFIX = {RAW_TABLE: ".csv"}
#: Most objects one run names by `"$path"` (inside partly consumed partitions): about 80
#: bytes each, so the query stays well within Athena's 262,144-byte query text.
MAX_NAMED_OBJECTS = 2000
#: Objects up to this size are counted row by row even when nothing else needs the raw rows
#: read before staging: a header line alone is about 60 bytes, one bar about 80 more.
SMALL_OBJECT_BYTES = 4096


@dataclass(frozen=True)
class RawObject:
    table: str
    dt: str
    #: Where the object is, relative to the engine's data root (`raw/dt=.../NVDA-...csv`):
    #: the consumed-raw record's key, independent of the bucket or lake directory.
    key: str
    #: The full location, as the table's `"$path"` column shows it.
    location: str
    fingerprint: str
    #: Bytes, when the listing says.
    size: int | None = None

    @property
    def may_yield_no_row(self) -> bool:
        """Small enough to be a header and nothing else (or of unknown size)."""
        return self.size is None or self.size <= SMALL_OBJECT_BYTES


@dataclass(frozen=True)
class RawListing:
    objects: tuple[RawObject, ...]
    #: Keys (relative to the data root) of objects no raw table reads where they are.
    misplaced: tuple[str, ...]
    #: (table, dt) partitions that hold hidden objects: never read as a whole partition.
    partitions_with_hidden: frozenset[tuple[str, str]]


def list_raw(engine: Engine, today: date) -> RawListing:
    """Every object of every raw table the catalog has, sorted into readable and misplaced."""
    root = engine.location("")
    objects: list[RawObject] = []
    misplaced: list[str] = []
    hidden: set[tuple[str, str]] = set()
    for table in RAW_TABLES:
        if not engine.table_exists(table):
            continue
        table_root = engine.table_location(table)
        for stored in engine.list_objects(table_root):
            found = _classify(table, table_root, root, stored, today)
            if isinstance(found, RawObject):
                objects.append(found)
            elif isinstance(found, tuple):
                hidden.add(found)
            elif found is not None:
                misplaced.append(found)
    return RawListing(tuple(objects), tuple(misplaced), frozenset(hidden))


def _classify(
    table: str, table_root: str, root: str, stored: StoredObject, today: date
) -> RawObject | tuple[str, str] | str | None:
    """A readable object, the (table, dt) of a hidden one, the key of a misplaced one, or
    None for what is no object at all (an S3 console "folder" marker)."""
    relative = stored.location[len(table_root) :]
    key = stored.location[len(root) :]
    if not relative or relative.endswith("/"):
        return None
    parts = relative.split("/")
    name = parts[-1]
    dt = _dt_of(parts[0]) if len(parts) == 2 else None
    if name.startswith((".", "_")):
        return (table, dt) if dt else None
    if dt is None or dt > today.isoformat() or not name.endswith(_NAME_SUFFIX.get(table, "")):
        return key
    return RawObject(table, dt, key, stored.location, stored.fingerprint, stored.size)


def _dt_of(folder: str) -> str | None:
    """The date of a `dt=YYYY-MM-DD` folder name, None when it is not a real date."""
    match = _DT_FOLDER.match(folder)
    if not match:
        return None
    try:
        date.fromisoformat(match.group(1))
    except ValueError:
        return None
    return match.group(1)


def unconsumed(listing: RawListing, consumed: dict[str, str]) -> list[RawObject]:
    """The readable objects the record does not hold with the same fingerprint: new ones and
    re-landed ones."""
    return [each for each in listing.objects if consumed.get(each.key) != each.fingerprint]


def within_query_limit(
    listing: RawListing, objects: list[RawObject]
) -> tuple[list[RawObject], list[RawObject]]:
    """The objects one run reads and those it leaves for the next: at most
    MAX_NAMED_OBJECTS of the ones that must be named by `"$path"` (oldest keys first)."""
    whole = _whole_partitions(listing, objects)
    named = sorted(
        (each for each in objects if (each.table, each.dt) not in whole),
        key=lambda each: each.key,
    )
    deferred = {each.key for each in named[MAX_NAMED_OBJECTS:]}
    return [each for each in objects if each.key not in deferred], [
        each for each in objects if each.key in deferred
    ]


def one_object_per_symbol(objects: list[RawObject]) -> bool:
    """Whether the objects are ingested CSVs (`SYMBOL-<landing time>.csv`), one per symbol.

    Ingestion writes a day once per object, so then no day of a symbol comes twice among their
    rows; Firehose deliveries may repeat a record, so they never count."""
    symbols = []
    for each in objects:
        symbol, separator, _ = each.key.rsplit("/", 1)[-1].rpartition("-")
        if each.table != RAW_TABLE or not separator:
            return False
        symbols.append(symbol)
    return len(symbols) == len(set(symbols))


def rows_sql(listing: RawListing, objects: list[RawObject]) -> str:
    """A SELECT of the raw rows of exactly `objects`, over every raw table they are in (a
    relation that matches nothing when there are none)."""
    whole = _whole_partitions(listing, objects)
    selects = [
        queries.render("raw_source", raw_table=table, raw_filter=_filter(table, objects, whole))
        for table in RAW_TABLES
        if any(each.table == table for each in objects)
    ]
    if not selects:
        selects = [queries.render("raw_source", raw_table=RAW_TABLE, raw_filter="false")]
    return "\nUNION ALL\n".join(selects)


def _filter(table: str, objects: list[RawObject], whole_partitions: set[tuple[str, str]]) -> str:
    """`dt IN (...)` for partitions read whole, `"$path" IN (...)` within the others.

    The dt predicate comes first everywhere: Athena's partition projection then lists only
    those partitions. A partition is read whole only when every object in it is to be read
    and it holds nothing hidden, so a consumed object is never read again.
    """
    wanted = [each for each in objects if each.table == table]
    whole = sorted({each.dt for each in wanted if (table, each.dt) in whole_partitions})
    partial = [each for each in wanted if each.dt not in whole]
    clauses = []
    if whole:
        clauses.append(f"dt IN ({queries.string_list(whole)})")
    if partial:
        partial_dts = queries.string_list(sorted({each.dt for each in partial}))
        paths = queries.string_list(each.location for each in partial)
        clauses.append(f'(dt IN ({partial_dts}) AND "$path" IN ({paths}))')
    return " OR ".join(clauses) or "false"


def _whole_partitions(listing: RawListing, objects: list[RawObject]) -> set[tuple[str, str]]:
    """The (table, dt) partitions every listed object of which is to be read, hiding nothing:
    those a query may read whole without reading anything consumed or hidden."""
    wanted = Counter((each.table, each.dt) for each in objects)
    listed = Counter((each.table, each.dt) for each in listing.objects)
    return {
        partition
        for partition, count in wanted.items()
        if count == listed[partition] and partition not in listing.partitions_with_hidden
    }
