-- symbol_summary whole, one row per (symbol, year): the rows kept from the current summary
-- for years whose daily_prices partition did not change, and the changed years summarised
-- again from daily_prices. Written as the single partition `summary = 'all'` and ordered,
-- so Athena writes it with one writer: every reader of the summary opens one small file,
-- however many years of history there are.
SELECT symbol, first_trade_date, last_trade_date, bars, year, CAST('all' AS varchar) AS summary
FROM (
    SELECT symbol, first_trade_date, last_trade_date, bars, year
    FROM {kept}
    WHERE year NOT IN ({years})
    UNION ALL
    SELECT
        symbol,
        min(trade_date) AS first_trade_date,
        max(trade_date) AS last_trade_date,
        CAST(count(*) AS bigint) AS bars,
        year
    FROM daily_prices
    WHERE year IN ({years})
    GROUP BY symbol, year
)
ORDER BY symbol, year
