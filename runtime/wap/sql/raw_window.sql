-- The trade-date span of the raw partitions a run reads (from the watermark on, inclusive):
-- how far back published closes are needed for daily returns, and which years staging gets.
SELECT
    min(try_cast(trade_date AS date)) AS first_trade_date,
    year(min(try_cast(trade_date AS date))) AS first_year,
    year(max(try_cast(trade_date AS date))) AS last_year
FROM raw_daily_prices
WHERE dt >= '{watermark}'
