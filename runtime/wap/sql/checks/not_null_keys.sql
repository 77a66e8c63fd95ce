-- error: every row needs a symbol and a parseable trade_date.
SELECT
    coalesce(nullif(symbol, ''), '?') || '@' || coalesce(CAST(trade_date AS varchar), '?') AS failure_key,
    0.0 AS sample_rank
FROM {staging}
WHERE symbol IS NULL OR symbol = '' OR trade_date IS NULL
