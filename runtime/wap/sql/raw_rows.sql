-- How many raw rows the run's window holds (read only when staging came out empty).
SELECT count(*) AS raw_rows
FROM raw_daily_prices
WHERE dt >= '{watermark}'
