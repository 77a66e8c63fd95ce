-- The first and last published trading day: the report's default time range.
SELECT
    min(trade_date) AS first_trade_date,
    max(trade_date) AS last_trade_date
FROM daily_prices
