-- error: every symbol is a ticker as ingestion writes it (a stray quote or a lower-case name
-- means the raw file was not written by the ingestion, or was damaged).
SELECT
    symbol || '@' || coalesce(CAST(trade_date AS varchar), '?') AS failure_key,
    0.0 AS sample_rank
FROM {staging}
-- Missing symbols are not_null_keys' to report.
WHERE symbol <> '' AND NOT regexp_like(symbol, '^[A-Z0-9][A-Z0-9.-]{{0,11}}$')
