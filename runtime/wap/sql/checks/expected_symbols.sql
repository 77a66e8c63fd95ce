-- warning: every configured symbol has a bar on the run's newest trade date (a symbol that
-- is missing, or lags behind the others, was not ingested today).
SELECT
    expected.symbol AS failure_key,
    0.0 AS sample_rank
FROM UNNEST(CAST(ARRAY[{expected_symbols}] AS array(varchar))) AS expected (symbol)
WHERE NOT EXISTS (
    SELECT 1
    FROM {staging} AS s
    WHERE s.symbol = expected.symbol
        AND s.trade_date = (SELECT max(trade_date) FROM {staging})
)
