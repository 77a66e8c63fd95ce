-- How many (symbol, trade_date) keys of the raw rows a run read are not published with the
-- same values (counted only when staging came out empty, for the staging_not_empty check).
SELECT count(*) AS unpublished_keys
FROM (
    SELECT DISTINCT
        symbol,
        try_cast(trade_date AS date) AS trade_date,
        try_cast(open AS double) AS open,
        try_cast(high AS double) AS high,
        try_cast(low AS double) AS low,
        try_cast(close AS double) AS close,
        try_cast(volume AS bigint) AS volume
    FROM ({raw_rows}) AS raw_rows
) AS r
WHERE NOT EXISTS (
    SELECT 1
    FROM {published} AS p
    WHERE p.year = year(r.trade_date)
        AND p.symbol = r.symbol
        AND p.trade_date = r.trade_date
        AND p.open = r.open
        AND p.high = r.high
        AND p.low = r.low
        AND p.close = r.close
        AND p.volume = r.volume
)
