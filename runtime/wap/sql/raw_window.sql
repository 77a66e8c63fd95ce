-- The trade-date span of the raw rows a run reads: how far back published closes are needed
-- for daily returns, and which years staging gets.
SELECT
    count(*) AS raw_rows,
    min(try_cast(trade_date AS date)) AS first_trade_date,
    year(min(try_cast(trade_date AS date))) AS first_year,
    year(max(try_cast(trade_date AS date))) AS last_year
FROM ({raw_rows}) AS raw_rows
