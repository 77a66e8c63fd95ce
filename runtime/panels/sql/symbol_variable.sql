-- Values of the dashboard's multi-value `symbol` variable: every published symbol.
SELECT DISTINCT symbol
FROM daily_prices
ORDER BY symbol
