-- The oldest trade date in the raw partitions a run reads (from the watermark on,
-- inclusive): how far back published closes are needed for daily returns.
SELECT min(try_cast(trade_date AS date)) AS first_trade_date
FROM raw_daily_prices
WHERE dt >= '{watermark}'
