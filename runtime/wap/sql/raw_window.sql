-- Per raw object a run reads: its rows and trade-date span. An object that yields no row was
-- not read where it is (raw_layout reports it); the span says how far back published closes
-- are needed for daily returns, and which years staging gets.
SELECT
    source_object,
    count(*) AS raw_rows,
    min(try_cast(trade_date AS date)) AS first_trade_date,
    max(try_cast(trade_date AS date)) AS last_trade_date
FROM ({raw_rows}) AS raw_rows
GROUP BY source_object
