-- Shares traded per symbol and trading day.
SELECT
    CAST(trade_date AS timestamp) AS time,
    symbol,
    volume
FROM daily_prices
WHERE $__dateFilter(trade_date)
    AND year BETWEEN year($__timeFrom()) AND year($__timeTo())
    AND symbol IN (${symbol:sqlstring})
ORDER BY time, symbol
