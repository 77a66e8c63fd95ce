-- Staged rows per year: how many have a published row with the same key, and how many of
-- those differ from it (replaced; the others are already published as they are, after a
-- crashed publish). `years`: the staged years that already have published rows.
SELECT
    s.year,
    count(*) AS staged_rows,
    count(p.symbol) AS published_rows,
    count(
        CASE
            WHEN p.symbol IS NOT NULL AND (
                p.open IS DISTINCT FROM s.open
                OR p.high IS DISTINCT FROM s.high
                OR p.low IS DISTINCT FROM s.low
                OR p.close IS DISTINCT FROM s.close
                OR p.volume IS DISTINCT FROM s.volume
                OR p.daily_return IS DISTINCT FROM s.daily_return
            ) THEN 1
        END
    ) AS replaced_rows
FROM {staging} AS s
LEFT JOIN (
    SELECT symbol, trade_date, open, high, low, close, volume, daily_return, year
    FROM {published}
    WHERE year IN ({years})
) AS p
    ON p.year = s.year AND p.symbol = s.symbol AND p.trade_date = s.trade_date
WHERE s.year IS NOT NULL
GROUP BY s.year
ORDER BY s.year
