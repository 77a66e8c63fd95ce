-- The published rows staging replaces with different values, kept in daily_prices_replaced
-- under the replacing run (published_run_id: the run that had published them).
SELECT
    p.symbol, p.trade_date, p.open, p.high, p.low, p.close, p.volume,
    p.avg_price, p.daily_return, p.ingested_at,
    p.run_id AS published_run_id,
    CAST('{run_id}' AS varchar) AS run_id
FROM {published} AS p
JOIN {staging} AS s
    ON s.year = p.year AND s.symbol = p.symbol AND s.trade_date = p.trade_date
WHERE p.year IN ({years})
    AND (
        p.open IS DISTINCT FROM s.open
        OR p.high IS DISTINCT FROM s.high
        OR p.low IS DISTINCT FROM s.low
        OR p.close IS DISTINCT FROM s.close
        OR p.volume IS DISTINCT FROM s.volume
        OR p.daily_return IS DISTINCT FROM s.daily_return
    )
