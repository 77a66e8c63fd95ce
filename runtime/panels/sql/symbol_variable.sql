-- Values of the dashboard's multi-value `symbol` variable: every published symbol, from
-- symbol_summary (a few rows per symbol) rather than a scan of every year of daily_prices.
SELECT DISTINCT symbol
FROM symbol_summary
ORDER BY symbol
