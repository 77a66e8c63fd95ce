-- Latest published trade date per symbol, for the freshness metric, from the summary.
SELECT symbol, max(last_trade_date) AS latest_trade_date
FROM symbol_summary
GROUP BY symbol
ORDER BY symbol
