-- error: no bar dated on a Saturday or Sunday (ISO day of week 6 and 7).
SELECT
    symbol || '@' || CAST(trade_date AS varchar) AS failure_key,
    0.0 AS sample_rank
FROM {staging}
WHERE day_of_week(trade_date) IN (6, 7)
