-- error: open, high, low, close and volume are present and numeric.
SELECT
    symbol || '@' || CAST(trade_date AS varchar) AS failure_key,
    0.0 AS sample_rank
FROM {staging}
WHERE open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL OR volume IS NULL
