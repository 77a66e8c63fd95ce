-- error: high >= low, and open and close lie within [low, high].
SELECT
    symbol || '@' || CAST(trade_date AS varchar) AS failure_key,
    0.0 AS sample_rank
FROM {staging}
WHERE high < low
    OR open NOT BETWEEN low AND high
    OR close NOT BETWEEN low AND high
