-- error: one row per (symbol, trade_date) in what publish would write: the merged rows of
-- every touched year (a year with no published rows is its staged rows).
SELECT
    symbol || '@' || CAST(trade_date AS varchar) AS failure_key,
    CAST(count(*) AS double) AS sample_rank
FROM ({merged}) AS merged
GROUP BY symbol, trade_date
HAVING count(*) > 1
