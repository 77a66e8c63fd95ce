-- Latest published trade date per symbol, for the freshness metric. Reads the recent years
-- only: a symbol silent for longer drops out of the metric, which the alarm treats as stale.
SELECT symbol, max(trade_date) AS latest_trade_date
FROM daily_prices
WHERE year >= {since_year}
GROUP BY symbol
ORDER BY symbol
