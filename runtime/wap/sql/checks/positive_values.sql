-- error: prices above zero, volume not negative.
SELECT
    symbol || '@' || CAST(trade_date AS varchar) AS failure_key,
    0.0 AS sample_rank
FROM {staging}
WHERE open <= 0 OR high <= 0 OR low <= 0 OR close <= 0 OR volume < 0
