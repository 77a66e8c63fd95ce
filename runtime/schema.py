"""The lake's table schemas, declared once for ingestion, both engines, SQL and tests.

Python 3.9 and the standard library only: the Glue job and the Lambda both import it.
"""

from __future__ import annotations

#: The raw zone's fields, in file order: the CSV header under `raw/` and the JSON keys of a
#: line under `raw_firehose/`. Every field is landed as the API sent it (text).
RAW_COLUMNS = ("symbol", "trade_date", "open", "high", "low", "close", "volume", "ingested_at")
#: A split record's CSV under `raw_splits/`, in file order (blank date and factor: the marker
#: row of a record without splits).
RAW_SPLITS_COLUMNS = ("symbol", "effective_date", "split_factor", "ingested_at")

#: daily_prices (and every staging table), in table order, Athena types; `year` last: it is
#: the partition column.
PROD_COLUMNS = (
    ("symbol", "varchar"),
    ("trade_date", "date"),
    ("open", "double"),
    ("high", "double"),
    ("low", "double"),
    ("close", "double"),
    ("volume", "bigint"),
    ("avg_price", "double"),
    ("daily_return", "double"),
    ("ingested_at", "timestamp"),
    ("run_id", "varchar"),
    ("year", "integer"),
)
PROD_PARTITION_COLUMN = "year"
