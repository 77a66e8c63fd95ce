"""Which published file is damaged, when DuckDB's error does not say.

A damaged Parquet data page fails a query with a bare reason ("TProtocolException ...",
"don't know what type") and no file name. Only then, every data file the catalog points at
is read in full, once, to name the damaged ones.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from runtime.wap.engines import local_catalog

#: How DuckDBEngine's messages name a file they could not read.
_NAMES_A_FILE = " failed reading "
#: Reasons that come from the SQL, not the data: never worth reading the lake for.
_SQL_MISTAKES = ("Binder Error", "Parser Error", "Catalog Error", "Conversion Error", "SQL:")


def name_damaged_file(message: str, lake: Path) -> str:
    """`message`, plus the damaged files' paths when it names none and any is found, and the
    way out (`rebuild`) when a published file is damaged."""
    way_out = f"; to rebuild the lake from its raw zone: {rebuild_command(lake)}"
    if _NAMES_A_FILE in message:
        published = str(lake.resolve() / "prod")
        return message + way_out if f"{_NAMES_A_FILE}{published}" in message else message
    if any(mistake in message for mistake in _SQL_MISTAKES):
        return message
    try:
        damaged = damaged_files(lake)
    except local_catalog.CatalogError:
        return message
    if not damaged:
        return message
    listed = "; ".join(f"{path} ({reason})" for path, reason in damaged)
    return f"{message}; damaged: {listed}{way_out}"


def rebuild_command(lake: Path) -> str:
    return f"python -m runtime.local rebuild --data-dir {lake.parent}"


def damaged_files(lake: Path) -> list[tuple[Path, str]]:
    """(path, first line of the reason) of every published data file that does not read."""
    catalog = local_catalog.read_catalog(lake)
    files = set()
    for name, entry in catalog["tables"].items():
        if "_staging_" in name:
            continue
        files.update(entry["files"])
        files.update(f for part in entry["partitions"].values() for f in part["files"])
    damaged = []
    connection = duckdb.connect()
    try:
        for relative in sorted(files):
            path = lake / relative
            try:
                connection.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
            except duckdb.Error as error:
                damaged.append((path, str(error).strip().splitlines()[0]))
    finally:
        connection.close()
    return damaged
