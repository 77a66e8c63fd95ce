-- Staging rows: every row publish must write, in production's layout. They are the raw bars
-- a run reads (its unconsumed raw objects) that are new or differ from their published bar,
-- and the published bars whose daily_return changes because the bar before them did (a
-- filled gap, a restated close).
--
-- One bar per (symbol, trade_date): the latest ingested raw copy, else the published bar.
-- daily_return = close / the previous trading day's close of that effective series - 1;
-- published closes are read from the lookback date on. Raw rows without a symbol or a
-- parseable trade date are kept as they are, for the audit to report.
WITH raw_rows AS (
    {raw_rows}
),

raw AS (
    SELECT
        symbol,
        try_cast(trade_date AS date) AS trade_date,
        try_cast(open AS double) AS open,
        try_cast(high AS double) AS high,
        try_cast(low AS double) AS low,
        try_cast(close AS double) AS close,
        try_cast(volume AS bigint) AS volume,
        try(date_parse(ingested_at, '%Y-%m-%dT%H:%i:%sZ')) AS ingested_at,
        source_object
    FROM raw_rows
),

ranked_raw AS (
    SELECT
        raw.*,
        row_number() OVER (
            PARTITION BY symbol, trade_date
            -- Two landings in the same second: the later object (names sort by landing).
            ORDER BY ingested_at DESC NULLS LAST, source_object DESC
        ) AS copy_rank
    FROM raw
),

published AS (
    SELECT {prod_columns}
    FROM {published} AS published_rows
    WHERE year >= {lookback_year} AND trade_date >= DATE '{lookback_date}'
),

-- Each day's effective bar, with the published bar it would replace (if any).
effective AS (
    SELECT
        r.symbol, r.trade_date, r.open, r.high, r.low, r.close, r.volume,
        r.ingested_at,
        true AS from_raw,
        p.symbol IS NOT NULL AS was_published,
        p.open IS DISTINCT FROM r.open
            OR p.high IS DISTINCT FROM r.high
            OR p.low IS DISTINCT FROM r.low
            OR p.close IS DISTINCT FROM r.close
            OR p.volume IS DISTINCT FROM r.volume AS bar_changed,
        p.avg_price AS published_avg_price,
        p.daily_return AS published_return
    FROM ranked_raw AS r
    LEFT JOIN published AS p
        ON p.symbol = r.symbol AND p.trade_date = r.trade_date
    WHERE r.copy_rank = 1 AND r.symbol IS NOT NULL AND r.trade_date IS NOT NULL
    UNION ALL
    SELECT
        p.symbol, p.trade_date, p.open, p.high, p.low, p.close, p.volume,
        p.ingested_at,
        false AS from_raw,
        true AS was_published,
        false AS bar_changed,
        p.avg_price AS published_avg_price,
        p.daily_return AS published_return
    FROM published AS p
    WHERE NOT EXISTS (
        SELECT 1 FROM ranked_raw AS r
        WHERE r.symbol = p.symbol AND r.trade_date = p.trade_date
    )
),

returns AS (
    SELECT
        e.*,
        e.close / nullif(lag(e.close) OVER (PARTITION BY e.symbol ORDER BY e.trade_date), 0)
            - 1 AS daily_return,
        min(CASE WHEN e.from_raw THEN e.trade_date END) OVER (PARTITION BY e.symbol)
            AS first_raw_date
    FROM effective AS e
)

SELECT
    symbol,
    trade_date,
    open,
    high,
    low,
    close,
    volume,
    CASE
        WHEN from_raw THEN (open + high + low + close) / 4 ELSE published_avg_price
    END AS avg_price,
    daily_return,
    ingested_at,
    CAST('{run_id}' AS varchar) AS run_id,
    CAST(year(trade_date) AS integer) AS year
FROM returns
WHERE (from_raw AND (NOT was_published OR bar_changed))
    OR (
        trade_date > first_raw_date
        AND daily_return IS DISTINCT FROM published_return
    )
UNION ALL
SELECT
    symbol,
    trade_date,
    open,
    high,
    low,
    close,
    volume,
    (open + high + low + close) / 4 AS avg_price,
    CAST(NULL AS double) AS daily_return,
    ingested_at,
    CAST('{run_id}' AS varchar) AS run_id,
    CAST(year(trade_date) AS integer) AS year
FROM ranked_raw
WHERE symbol IS NULL OR trade_date IS NULL
