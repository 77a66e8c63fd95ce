-- The new contents of the touched year partitions: what is published there plus the new keys.
SELECT
    symbol, trade_date, open, high, low, close, volume,
    avg_price, daily_return, ingested_at, run_id, year
FROM {published} AS published_rows
WHERE year IN ({years})
UNION ALL
SELECT
    s.symbol, s.trade_date, s.open, s.high, s.low, s.close, s.volume,
    s.avg_price, s.daily_return, s.ingested_at, s.run_id, s.year
FROM {staging} AS s
WHERE s.year IN ({years})
    AND NOT EXISTS (
        SELECT 1 FROM {published} AS p
        WHERE p.year IN ({years})
            AND p.symbol = s.symbol AND p.trade_date = s.trade_date
    )
