-- Daily return per symbol: close / previous trading day's close - 1, as a fraction.
-- NULL on a symbol's first published day, so the line starts on its second day.
-- daily_return is stored by publish (from the previous close, across years too), so this
-- reads only the range's own rows and year partitions.
SELECT
    CAST(trade_date AS timestamp) AS time,
    symbol,
    daily_return
FROM daily_prices
WHERE $__dateFilter(trade_date)
    AND year BETWEEN year($__timeFrom()) AND year($__timeTo())
    AND symbol IN (${symbol:sqlstring})
    AND daily_return IS NOT NULL
ORDER BY time, symbol
