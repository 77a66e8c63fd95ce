-- warning: a staged bar differs from the published bar with the same key. Publish replaces
-- it (the audit passed otherwise) and keeps the published values in daily_prices_replaced.
SELECT
    s.symbol || '@' || CAST(s.trade_date AS varchar) AS failure_key,
    0.0 AS sample_rank
FROM {staging} AS s
JOIN {published} AS p
    ON p.symbol = s.symbol AND p.trade_date = s.trade_date
WHERE p.year BETWEEN {first_year} AND {last_year}
    AND (
        p.open IS DISTINCT FROM s.open
        OR p.high IS DISTINCT FROM s.high
        OR p.low IS DISTINCT FROM s.low
        OR p.close IS DISTINCT FROM s.close
        OR p.volume IS DISTINCT FROM s.volume
    )
