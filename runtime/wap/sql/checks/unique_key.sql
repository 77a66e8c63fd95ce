-- error: one row per (symbol, trade_date).
SELECT
    symbol || '@' || CAST(trade_date AS varchar) AS failure_key,
    CAST(count(*) AS double) AS sample_rank
FROM {staging}
GROUP BY symbol, trade_date
HAVING count(*) > 1
