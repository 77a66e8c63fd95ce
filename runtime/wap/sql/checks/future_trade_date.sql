-- error: no bar dated after the run's date.
SELECT
    symbol || '@' || CAST(trade_date AS varchar) AS failure_key,
    0.0 AS sample_rank
FROM {staging}
WHERE trade_date > DATE '{as_of}'
