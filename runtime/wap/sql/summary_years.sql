-- symbol_summary for the given years of daily_prices: one row per (symbol, year).
SELECT
    symbol,
    min(trade_date) AS first_trade_date,
    max(trade_date) AS last_trade_date,
    count(*) AS bars,
    year
FROM daily_prices
WHERE year IN ({years})
GROUP BY symbol, year
