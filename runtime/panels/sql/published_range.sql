-- The first and last published trading day (the report's default range ends at the last),
-- from symbol_summary rather than a scan of every year of daily_prices.
SELECT
    min(first_trade_date) AS first_trade_date,
    max(last_trade_date) AS last_trade_date
FROM symbol_summary
