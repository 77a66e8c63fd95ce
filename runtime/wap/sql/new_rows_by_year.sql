-- Staged rows whose (symbol, trade_date) is not published yet, per year: what publish adds.
SELECT s.year, count(*) AS new_rows
FROM {staging} AS s
WHERE s.year BETWEEN {first_year} AND {last_year}
    AND NOT EXISTS (
        SELECT 1 FROM {published} AS p
        WHERE p.year BETWEEN {first_year} AND {last_year}
            AND p.symbol = s.symbol AND p.trade_date = s.trade_date
    )
GROUP BY s.year
ORDER BY s.year
