-- Closing price per symbol and trading day.
-- The year predicate lets Athena prune daily_prices' year partitions.
SELECT
    CAST(trade_date AS timestamp) AS time,
    symbol,
    close
FROM daily_prices
WHERE $__dateFilter(trade_date)
    AND year BETWEEN year($__timeFrom()) AND year($__timeTo())
    AND symbol IN (${symbol:sqlstring})
ORDER BY time, symbol
