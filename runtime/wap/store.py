"""The versioned-partition store under production, and the record of consumed raw objects.

Partitions: every write goes to a fresh version prefix
`{prod_prefix}{table}/<UTC time>Z_<run_id>/` (CTAS parts as `part-N/`, copied partitions as
`copy/`), then the table is repointed at all of them in one `replace_partitions` call. Live
data is never modified or deleted in place; the newest `keep_versions` version prefixes, and
any a partition still points at, are kept for rollback. `sweep` removes what a killed run
left: its temporary tables, and version prefixes beyond those.

One publisher at a time: a publish holds a `TableLock` on daily_prices, the table version its
staging was planned on. The swap happens only while the table is still at that version, and
`commit` records the run with that version (Glue's optimistic concurrency: the update fails
if any other writer committed meanwhile); a publish that loses undoes its swap (`undo_swap`).
Partitions have no version of their own, so the table version guards the swap.

Consumed raw: which raw objects (key -> fingerprint) publishes have consumed, as one JSON
object per publish under `{prod_prefix}_raw_consumed/<version>/`, named by the daily_prices
property `stockpipe.consumed_raw`. create_staging leaves the objects it read next to its
staging data; publish adds them to the record after its swap, so a run never loses track of
what it published, and a rerun after a crash re-reads only what was not recorded (publishing
those rows again changes nothing).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from runtime.wap import queries
from runtime.wap.config import CONSUMED_RAW_PROPERTY, PROD_TABLE, PUBLISHED_RUN_PROPERTY, WapConfig
from runtime.wap.engines.base import ConcurrentWriteError, Engine, EngineError

logger = logging.getLogger(__name__)

_CONSUMED_FOLDER = "_raw_consumed"
_CONSUMED_FILE = "raw_objects.json"
#: Next to a run's staging data (hidden from the staging table: Athena skips `_` names).
_STAGED_OBJECTS_FILE = "_raw_objects.json"


class StoreError(RuntimeError):
    """The store cannot go on; the message says what is wrong and what to do."""


def version_name(run_id: str, moment: datetime) -> str:
    """The version prefix name of one run's write: sorts by time."""
    return f"{moment:%Y%m%dT%H%M%S%f}Z_{run_id}"


# -- the publish lock --------------------------------------------------------------------


@dataclass
class TableLock:
    """One publish's optimistic hold on a table.

    `version`: the table version the publish was planned on ("" while the table does not
    exist). `requires`: tables the publish reads from that must still exist when it swaps
    (its staging: another run's drop_staging dropping it meanwhile may have cut the data
    copied from it short). `swapped`: partition value -> (location before the swap or None
    when the swap created it, location after), so a publish that loses the race can undo it.
    """

    table: str
    version: str
    requires: tuple[str, ...] = ()
    swapped: dict[str, tuple[str | None, str]] = field(default_factory=dict)


def table_version(engine: Engine, table: str) -> str:
    """The table's version, "" when it does not exist."""
    return engine.table_version(table) if engine.table_exists(table) else ""


def check_lock(engine: Engine, lock: TableLock) -> None:
    """ConcurrentWriteError unless the table is still at the lock's version (StoreError when
    a table the lock requires is gone)."""
    for required in lock.requires:
        if not engine.table_exists(required):
            raise StoreError(
                f"{required} was dropped while a publish from it was running (by another "
                f"run's drop_staging?): nothing of it was swapped into {lock.table}; "
                "run the whole run again"
            )
    current = table_version(engine, lock.table)
    if current != lock.version:
        raise ConcurrentWriteError(
            f"{lock.table} is at version {current or '(absent)'}, "
            f"not {lock.version or '(absent)'}: another writer changed it"
        )


def undo_swap(engine: Engine, lock: TableLock) -> list[str]:
    """Put back every partition the lock's swap changed that still shows the swap's location
    (a partition another writer repointed since stays as that writer left it). Returns the
    partition values put back.

    A partition whose previous data the other writer's pruning deleted meanwhile keeps the
    swap's location: that data is the previous rows merged with this run's, which a later
    run publishes again anyway (this run recorded nothing), so no row is lost.
    """
    current = engine.partitions(lock.table) if engine.table_exists(lock.table) else {}
    ours = sorted(value for value, (_, new) in lock.swapped.items() if current.get(value) == new)
    restore: dict[str, str] = {}
    created: list[str] = []
    for value in ours:
        previous = lock.swapped[value][0]
        if previous is None:
            created.append(value)
        elif engine.list_objects(previous):
            restore[value] = previous
        else:
            kept = lock.swapped[value][1]
            logger.warning("%s %s keeps %s: %s is gone", lock.table, value, kept, previous)
    if restore:
        engine.replace_partitions(lock.table, restore)
    if created:
        engine.drop_partitions(lock.table, created)
    return [*sorted(restore), *created]


# -- partitions --------------------------------------------------------------------------


def write_partitions(
    engine: Engine,
    config: WapConfig,
    table: str,
    partition_column: str,
    selects: Sequence[str],
    run_id: str,
    moment: datetime,
    copies: dict[str, str] | None = None,
    template_sql: str | None = None,
    lock: TableLock | None = None,
) -> dict[str, str]:
    """Write each SELECT's partitions, and copy each of `copies` (partition value -> location
    holding exactly its data, in `table`'s layout), under one fresh version prefix, swap
    them all in, then prune old versions. Returns the swapped-in partitions.

    The SELECTs' last column is `partition_column`. Creates `table` when it does not exist
    yet, like the first write or, when there are only copies, like `template_sql` (an empty
    SELECT of its shape).

    With `lock` (on `table`), the swap happens only while the table is at the lock's version
    (ConcurrentWriteError otherwise, before anything is swapped), the lock records what it
    swapped, and nothing is pruned: the caller commits, then prunes (`prune_table`).
    """
    table_location = engine.location(f"{config.prod_prefix}{table}/")
    version = f"{table_location}{version_name(run_id, moment)}/"
    written = write_parts(
        engine,
        table,
        table_location,
        version,
        partition_column,
        selects,
        copies or {},
        template_sql,
        run_id,
        lock,
    )
    if lock is None:
        prune_table(engine, config, table)
    return written


def prune_table(engine: Engine, config: WapConfig, table: str) -> list[str]:
    """Delete `table`'s version prefixes beyond the newest `keep_versions` that no partition
    points at (all beyond the newest when the table does not exist)."""
    live = engine.partitions(table) if engine.table_exists(table) else {}
    table_location = engine.location(f"{config.prod_prefix}{table}/")
    return prune_versions(engine, table_location, config.keep_versions, live)


def write_parts(
    engine: Engine,
    table: str,
    table_location: str,
    root: str,
    partition_column: str,
    selects: Sequence[str],
    copies: dict[str, str],
    template_sql: str | None,
    run_id: str,
    lock: TableLock | None = None,
) -> dict[str, str]:
    """CTAS each SELECT to `{root}part-N/`, copy each partition of `copies` to
    `{root}copy/{column}={value}/`, then point `table` at all of them in one swap (creating
    it at `table_location` when absent), guarded by `lock` when given."""
    written: dict[str, str] = {}
    temps: list[str] = []
    try:
        for index, select_sql in enumerate(selects):
            temp = queries.identifier(f"{table}_write_{run_id}_{index}")
            engine.drop_table(temp)
            temps.append(temp)
            engine.ctas(
                temp,
                select_sql,
                f"{root}part-{index}/",
                partitioned_by=partition_column,
                name=f"write {table} part {index}",
            )
            written.update(engine.partitions(temp))
        for value, source in sorted(copies.items()):
            target = f"{root}copy/{partition_column}={value}/"
            engine.copy_location(source, target)
            written[value] = target
        if not engine.table_exists(table):
            if not temps:
                # Only copies: model the table on an empty CTAS of its shape (the copies'
                # own staging table carries the run's properties, which must not leak).
                if template_sql is None:
                    raise StoreError(f"cannot create {table}: nothing was written to model it on")
                template = queries.identifier(f"{table}_template_{run_id}")
                engine.drop_table(template)
                temps.append(template)
                engine.ctas(
                    template,
                    template_sql,
                    f"{root}template/",
                    partitioned_by=partition_column,
                    name=f"create {table}",
                )
            if lock is not None:
                check_lock(engine, lock)
            engine.create_table_like(table, temps[0], table_location)
            if lock is not None:
                lock.version = engine.table_version(table)
        if lock is not None:
            check_lock(engine, lock)
            before = engine.partitions(table)
            lock.swapped.update({value: (before.get(value), new) for value, new in written.items()})
        engine.replace_partitions(table, written)
    finally:
        for temp in temps:
            try:
                engine.drop_table(temp)
            except EngineError:
                logger.exception("could not drop the temporary table %s", temp)
    return written


def prune_versions(
    engine: Engine, parent: str, keep: int, live: dict[str, str] | None = None
) -> list[str]:
    """Delete the version prefixes under `parent` older than the newest `keep` that no live
    location (a partition, a record) is in."""
    locations = list((live or {}).values())
    stale = [
        version
        for version in engine.list_locations(parent)[:-keep]
        if not any(location.startswith(version) for location in locations)
    ]
    for version in stale:
        engine.delete_location(version)
    return stale


# -- the consumed-raw record -------------------------------------------------------------


def consumed_raw(engine: Engine) -> dict[str, str]:
    """Raw object key -> fingerprint of everything publishes consumed ({} before the first)."""
    if not engine.table_exists(PROD_TABLE):
        return {}
    relative = engine.table_properties(PROD_TABLE).get(CONSUMED_RAW_PROPERTY)
    if not relative:
        return {}
    location = _object_location(engine, relative)
    text = engine.read_text(location)
    if text is None:
        raise StoreError(
            f"the record of consumed raw objects {location} named by {PROD_TABLE}'s "
            f"property {CONSUMED_RAW_PROPERTY} is missing: restore it from the bucket's "
            "object versions (or point the property at an older record) before the next run"
        )
    return _objects_of(text, location)


def published_run(engine: Engine) -> str | None:
    """The run whose publish recorded its consumed raw objects last."""
    if not engine.table_exists(PROD_TABLE):
        return None
    return engine.table_properties(PROD_TABLE).get(PUBLISHED_RUN_PROPERTY) or None


def record_consumed(
    engine: Engine,
    config: WapConfig,
    objects: dict[str, str],
    run_id: str,
    moment: datetime,
    lock: TableLock | None = None,
) -> None:
    """Add `objects` to the record and name `run_id` as the last publish, in one table write
    (with `lock`, only if daily_prices is still at its version: ConcurrentWriteError
    otherwise). The record is a new object, written before the property names it, so the
    property never names a missing record. Without `objects` only the run is named."""
    properties = {PUBLISHED_RUN_PROPERTY: run_id}
    parent = f"{config.prod_prefix}{_CONSUMED_FOLDER}/"
    if objects:
        record = {**consumed_raw(engine), **objects}
        relative = f"{parent}{version_name(run_id, moment)}/{_CONSUMED_FILE}"
        engine.write_text(
            _object_location(engine, relative),
            json.dumps({"run_id": run_id, "objects": record}, indent=0, sort_keys=True),
        )
        properties[CONSUMED_RAW_PROPERTY] = relative
    engine.set_table_properties(
        PROD_TABLE, properties, expected_version=None if lock is None else lock.version
    )
    prune_records(engine, config)


def prune_records(engine: Engine, config: WapConfig) -> list[str]:
    """Delete record versions beyond the newest `keep_versions`, keeping the current one."""
    relative = engine.table_exists(PROD_TABLE) and engine.table_properties(PROD_TABLE).get(
        CONSUMED_RAW_PROPERTY
    )
    current = {"record": _object_location(engine, relative)} if relative else {}
    parent = engine.location(f"{config.prod_prefix}{_CONSUMED_FOLDER}/")
    return prune_versions(engine, parent, config.keep_versions, current)


# -- debris ------------------------------------------------------------------------------


def temporary_tables(engine: Engine, tables: Sequence[str]) -> list[str]:
    """The temporary tables `write_parts` creates for any of `tables` (and for tables named
    after them, such as staging tables): `{table}_write_{run}_{n}`, `{table}_template_{run}`."""
    return [
        name
        for name in engine.tables()
        if any(name.startswith(f"{table}_") for table in tables)
        and ("_write_" in name or "_template_" in name)
    ]


def sweep(engine: Engine, config: WapConfig, tables: Sequence[str]) -> list[str]:
    """Drop every temporary table of `tables` and delete their version prefixes (and the
    record's) beyond the kept ones, whichever run left them and wherever it was killed.
    Returns what went: table names and locations.

    A run still writing is spared its newest version prefixes (kept by `keep_versions`), but
    loses its temporary tables (it then fails before its swap, and nothing is lost).
    """
    swept = temporary_tables(engine, tables)
    for name in swept:
        engine.drop_table(name)
    for table in tables:
        swept.extend(prune_table(engine, config, table))
    swept.extend(prune_records(engine, config))
    return swept


def stage_objects(engine: Engine, staging_location: str, objects: dict[str, str]) -> None:
    """Leave the raw objects a run's staging was built from next to its staging data."""
    engine.write_text(
        f"{staging_location}{_STAGED_OBJECTS_FILE}",
        json.dumps({"objects": objects}, indent=0, sort_keys=True),
    )


def staged_objects(engine: Engine, staging_location: str) -> dict[str, str]:
    location = f"{staging_location}{_STAGED_OBJECTS_FILE}"
    text = engine.read_text(location)
    if text is None:
        raise StoreError(f"{location} is missing: run create_staging again")
    return _objects_of(text, location)


def _object_location(engine: Engine, relative: str) -> str:
    folder, _, name = relative.rpartition("/")
    return f"{engine.location(folder)}{name}"


def _objects_of(text: str, location: str) -> dict[str, str]:
    try:
        objects = json.loads(text)["objects"]
    except (ValueError, KeyError, TypeError) as error:
        raise StoreError(f"{location} is not a record of raw objects: {error}") from None
    if not isinstance(objects, dict):
        raise StoreError(f"{location} is not a record of raw objects")
    return {str(key): str(value) for key, value in objects.items()}
