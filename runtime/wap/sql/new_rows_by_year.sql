-- Staged rows whose (symbol, trade_date) is not published yet, in the given years (those
-- that already have published rows): what publish merges in.
SELECT s.year, count(*) AS new_rows
FROM {staging} AS s
WHERE s.year IN ({years})
    AND NOT EXISTS (
        SELECT 1 FROM {published} AS p
        WHERE p.year IN ({years})
            AND p.symbol = s.symbol AND p.trade_date = s.trade_date
    )
GROUP BY s.year
ORDER BY s.year
