-- warning: every configured symbol has a bar on the newest trade date this run brought, in
-- what publish would write (a symbol missing there, or lagging behind the others, had new
-- data expected and none arrived). A run that brought nothing new (a rerun of the day, a
-- weekend run) expects nothing, so it warns about nothing.
SELECT
    expected.symbol AS failure_key,
    0.0 AS sample_rank
FROM UNNEST(CAST(ARRAY[{expected_symbols}] AS array(varchar))) AS expected (symbol)
CROSS JOIN (SELECT max(trade_date) AS trade_date FROM {staging}) AS newest
WHERE newest.trade_date IS NOT NULL
    AND NOT EXISTS (
        SELECT 1
        FROM ({merged}) AS merged
        WHERE merged.symbol = expected.symbol
            AND merged.trade_date = newest.trade_date
    )
