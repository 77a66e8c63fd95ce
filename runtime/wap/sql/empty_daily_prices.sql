-- Stands in for daily_prices before the first publish has created it.
SELECT
    CAST(NULL AS varchar) AS symbol,
    CAST(NULL AS date) AS trade_date,
    CAST(NULL AS double) AS open,
    CAST(NULL AS double) AS high,
    CAST(NULL AS double) AS low,
    CAST(NULL AS double) AS close,
    CAST(NULL AS bigint) AS volume,
    CAST(NULL AS double) AS avg_price,
    CAST(NULL AS double) AS daily_return,
    CAST(NULL AS timestamp) AS ingested_at,
    CAST(NULL AS varchar) AS run_id,
    CAST(NULL AS integer) AS year
WHERE false
