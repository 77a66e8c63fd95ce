-- The new contents of the touched year partitions: the published rows that staging does not
-- replace, and every staged row (new keys, restated bars, recomputed neighbours).
SELECT {prod_columns}
FROM {published} AS published_rows
WHERE year IN ({years})
    AND NOT EXISTS (
        SELECT 1 FROM {staging} AS s
        WHERE s.year = published_rows.year
            AND s.symbol = published_rows.symbol
            AND s.trade_date = published_rows.trade_date
    )
UNION ALL
SELECT {prod_columns}
FROM {staging}
WHERE year IN ({years})
