-- The rows of one raw table's unconsumed objects (`raw_filter` names their dt partitions
-- and, where a partition was partly consumed already, the objects themselves by "$path").
SELECT
    symbol, trade_date, open, high, low, close, volume, ingested_at,
    "$path" AS source_object
FROM {raw_table}
WHERE {raw_filter}
