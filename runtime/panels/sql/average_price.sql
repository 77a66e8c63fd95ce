-- Average price per symbol and trading day: avg_price = (open + high + low + close) / 4.
SELECT
    CAST(trade_date AS timestamp) AS time,
    symbol,
    avg_price
FROM daily_prices
WHERE $__dateFilter(trade_date)
    AND year BETWEEN year($__timeFrom()) AND year($__timeTo())
    AND symbol IN (${symbol:sqlstring})
ORDER BY time, symbol
