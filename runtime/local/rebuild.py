"""`rebuild`: a damaged local lake made anew from its raw zone, the damaged one kept aside.

The raw zone is the lake's source of truth: every table publish writes (`daily_prices`,
`symbol_summary`, the consumed-raw record) is derived from it. A damaged Parquet file, a
lost catalog or catalog history leave the raw objects as they were; `rebuild`
  1. takes the lake's writer lock (refused while another writer holds it),
  2. moves everything but the raw zone to `DATA_DIR/lake-before-rebuild-<UTC time>/` and
     links the raw objects there too, so the aside is a whole lake to inspect or restore,
  3. carries the run history (`dq_results`, `daily_prices_replaced`) over, partition by
     partition, from the old catalog (or its newest readable generation), leaving out and
     naming what does not read,
  4. runs drop_staging, create_staging, audit and publish over the whole raw zone.
After it, the lake publishes exactly what a fresh lake with the same raw zone would.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from runtime.ingest.settings import DEFAULT_SYMBOLS
from runtime.local.console import Console
from runtime.local.options import UsageError
from runtime.wap import raw_zone, steps
from runtime.wap.config import DQ_TABLE, REPLACED_TABLE, WapConfig, new_run_id
from runtime.wap.engines import local_catalog
from runtime.wap.engines.duckdb_engine import DuckDBEngine

#: The run history: no raw object can rebuild it, so it is carried over where it reads.
HISTORY_TABLES = (DQ_TABLE, REPLACED_TABLE)
#: What stays in the lake: the raw zones (the split records too: daily returns use them),
#: ingestion's state, which source filled it, its lock.
KEPT_IN_LAKE = (
    "raw",
    "raw_firehose",
    "raw_splits",
    "ingest_state",
    "_source",
    local_catalog.LOCK_FILE,
)
ASIDE_PREFIX = "lake-before-rebuild-"


@dataclass
class Carried:
    """What of the run history came over, and what could not."""

    kept: dict[str, int] = field(default_factory=dict)  # table -> partitions kept
    lost: list[str] = field(default_factory=list)  # one line per thing not kept


def rebuild(lake: Path, console: Console, *, wait_seconds: float, today: date | None = None) -> int:
    """Rebuild `lake` from its raw zone; the exit status (0 published, 1 not)."""
    today = today or date.today()
    if not _raw_objects(lake):
        raise UsageError(f"{lake} has no raw object to rebuild from: nothing was changed")
    lock = local_catalog.writer_lock(
        lake, "rebuild", wait_seconds=wait_seconds, keep_generation=True
    )
    with lock:
        aside = _aside_path(lake)
        with console.step("set aside", f"the lake before the rebuild -> {aside}"):
            _move_aside(lake, aside)
        # Said first, so a rebuild that stops halfway still tells where the old lake is.
        console.summary(f"the lake before the rebuild is kept in {aside}")
        with console.step("carry history", ", ".join(HISTORY_TABLES)):
            carried = carry_history(aside, lake)
        for table, partitions in carried.kept.items():
            console.progress(f"  kept {table}: {partitions} partition(s)")
        config = WapConfig(symbols=_raw_symbols(lake))
        run_id = new_run_id()
        engine = DuckDBEngine(lake)
        try:
            with console.step("drop_staging"):
                steps.drop_staging(engine, config, run_id)
            with console.step("create_staging", "from the whole raw zone"):
                staging = steps.create_staging(engine, config, run_id)
            console.progress(
                f"  {staging.staged_rows:,} rows staged from {staging.raw_objects:,} raw objects"
            )
            if staging.raw_objects_deferred:
                console.summary(
                    f"{staging.raw_objects_deferred:,} more raw objects are left for the next "
                    f"run (one query names at most {raw_zone.MAX_NAMED_OBJECTS:,})"
                )
            with console.step("audit"):
                audit = steps.audit(engine, config, run_id, as_of=today)
            published = None
            if audit.ok:
                with console.step("publish"):
                    published = steps.publish(engine, config, run_id)
        finally:
            engine.close()
    for line in carried.lost:
        console.summary(f"could not keep: {line}")
    if published is None:
        console.error(
            f"rebuilt {lake} from its raw zone, but the audit blocked publication of run "
            f"{run_id}: {', '.join(r.check_name for r in audit.failed_errors)}; the raw zone "
            "holds what a fresh lake would refuse too"
        )
        return 1
    console.summary(
        f"rebuilt {lake} from its raw zone: run {run_id} published {published.rows_added:,} "
        f"rows (years: {', '.join(map(str, published.years)) or 'none'}); the next run or "
        "`report` redraws the report"
    )
    return 0


def carry_history(old_lake: Path, new_lake: Path) -> Carried:
    """Copy every readable partition of the run-history tables, and their catalog entries."""
    carried = Carried()
    catalog, problem = _readable_catalog(old_lake)
    if catalog is None:
        carried.lost.append(f"{', '.join(HISTORY_TABLES)}: {problem}")
        return carried
    tables = {}
    for name in HISTORY_TABLES:
        entry = catalog["tables"].get(name)
        if entry is None:
            continue
        kept_entry, lost = _readable_parts(old_lake, name, entry)
        carried.lost += lost
        if kept_entry["partitions"] or kept_entry["files"]:
            for relative in _files(kept_entry):
                target = new_lake / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(old_lake / relative, target)
            tables[name] = kept_entry
            carried.kept[name] = len(kept_entry["partitions"]) or 1
    if tables:
        local_catalog.write_catalog(new_lake, {"tables": tables})
    return carried


def _readable_catalog(lake: Path) -> tuple[dict[str, Any] | None, str]:
    """The old catalog, else its newest readable kept generation, else why neither reads."""
    try:
        return local_catalog.read_catalog(lake), ""
    except local_catalog.CatalogError as error:
        problem = str(error).split(";")[0]
    for generation in local_catalog.list_generations(lake):
        try:
            text = generation.path.read_text(encoding="utf-8")
            return local_catalog.parse_catalog(text, generation.path, lake), ""
        except (OSError, UnicodeDecodeError, local_catalog.CatalogError):
            continue
    return None, f"{problem}, and no kept catalog generation reads (they say where its files are)"


def _readable_parts(
    lake: Path, name: str, entry: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """`entry` without its partitions (or unpartitioned files) that do not read in full."""
    lost = []
    partitions = {}
    column = entry.get("partitioned_by") or "partition"
    for value, part in entry["partitions"].items():
        problem = _unreadable(lake, part["files"])
        if problem:
            lost.append(f"{name} {column}={value}: {problem}")
        else:
            partitions[value] = part
    files = entry["files"]
    if files:
        problem = _unreadable(lake, files)
        if problem:
            lost.append(f"{name}: {problem}")
            files = []
    return {**entry, "partitions": partitions, "files": files}, lost


def _unreadable(lake: Path, files: list[str]) -> str | None:
    connection = duckdb.connect()
    try:
        for relative in files:
            path = lake / relative
            if not path.is_file():
                return f"{path} is missing"
            try:
                connection.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
            except duckdb.Error as error:
                return f"{path} does not read ({str(error).strip().splitlines()[0]})"
    finally:
        connection.close()
    return None


def _files(entry: dict[str, Any]) -> Iterator[str]:
    yield from entry["files"]
    for part in entry["partitions"].values():
        yield from part["files"]


def _aside_path(lake: Path) -> Path:
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    aside = lake.parent / f"{ASIDE_PREFIX}{stamp}"
    n = 1
    while aside.exists():
        n += 1
        aside = lake.parent / f"{ASIDE_PREFIX}{stamp}-{n}"
    return aside


def _move_aside(lake: Path, aside: Path) -> None:
    """Everything but the raw zone moves; the raw objects are linked (or copied) there too,
    so the aside is the whole lake as it was."""
    aside.mkdir()
    for item in sorted(lake.iterdir()):
        if item.name == local_catalog.LOCK_FILE:
            continue
        if item.name in KEPT_IN_LAKE:
            _link_tree(item, aside / item.name)
        else:
            os.replace(item, aside / item.name)


def _link_tree(source: Path, target: Path) -> None:
    if source.is_file():
        _link(source, target)
        return
    shutil.copytree(source, target, copy_function=_link)


def _link(source: Path | str, target: Path | str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _raw_objects(lake: Path) -> list[Path]:
    return [
        path
        for zone in ("raw", "raw_firehose")
        for path in (lake / zone).glob("dt=*/*")
        if path.is_file()
    ]


def _raw_symbols(lake: Path) -> tuple[str, ...]:
    """The symbols the raw CSV objects hold (named SYMBOL-<landing time>.csv)."""
    names = {path.name.rsplit("-", 1)[0] for path in (lake / "raw").glob("dt=*/*.csv")}
    return tuple(sorted(names)) or DEFAULT_SYMBOLS
