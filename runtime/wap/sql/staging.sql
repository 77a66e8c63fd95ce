-- Staging rows: the raw window cast to production types, one row per (symbol, trade_date)
-- (the latest ingested copy wins), with avg_price and daily_return.
--
-- One ordering does every job: per symbol, by trade date, with the published row of a day
-- (if any) first, then that day's raw copies from the latest ingested. So the first row of a
-- day is its effective bar (published, else latest copy), the first raw copy is the one to
-- keep, and the previous close is the effective close of the previous day: the row just
-- before when that day has one row (almost always), else looked up among the few days that
-- have several (`repeated_days`). DuckDB sorts once for all of it; Athena evaluates
-- `positioned` once per reference, which costs little (a daily window is a day or two of
-- raw). Copies with the same ingested_at come from one ingestion run's object and are the
-- same bar. Published closes are read from the lookback date on; keys already published are
-- kept for the audit (restatements) with a NULL return, and publish never adds them (they can
-- only fall in years that already have published rows, which publish merges rather than
-- copies). The columns are production's, in its order, so a year of staging can be
-- published as a copy of its files.
WITH raw AS (
    SELECT
        symbol,
        try_cast(trade_date AS date) AS trade_date,
        try_cast(open AS double) AS open,
        try_cast(high AS double) AS high,
        try_cast(low AS double) AS low,
        try_cast(close AS double) AS close,
        try_cast(volume AS bigint) AS volume,
        try(date_parse(ingested_at, '%Y-%m-%dT%H:%i:%sZ')) AS ingested_at,
        true AS is_raw
    FROM raw_daily_prices
    WHERE dt >= '{watermark}'
),

published AS (
    SELECT
        symbol,
        trade_date,
        CAST(NULL AS double) AS open,
        CAST(NULL AS double) AS high,
        CAST(NULL AS double) AS low,
        close,
        CAST(NULL AS bigint) AS volume,
        CAST(NULL AS timestamp) AS ingested_at,
        false AS is_raw
    FROM {published} AS published_rows
    WHERE year >= {lookback_year} AND trade_date >= DATE '{lookback_date}'
),

series AS (
    SELECT * FROM raw
    UNION ALL
    SELECT * FROM published
),

positioned AS (
    SELECT
        series.*,
        lag(trade_date) OVER (
            PARTITION BY symbol
            ORDER BY trade_date, is_raw, ingested_at DESC NULLS LAST
        ) AS previous_date,
        lag(trade_date, 2) OVER (
            PARTITION BY symbol
            ORDER BY trade_date, is_raw, ingested_at DESC NULLS LAST
        ) AS second_previous_date,
        lead(trade_date) OVER (
            PARTITION BY symbol
            ORDER BY trade_date, is_raw, ingested_at DESC NULLS LAST
        ) AS next_date,
        lag(is_raw) OVER (
            PARTITION BY symbol
            ORDER BY trade_date, is_raw, ingested_at DESC NULLS LAST
        ) AS previous_is_raw,
        lag(close) OVER (
            PARTITION BY symbol
            ORDER BY trade_date, is_raw, ingested_at DESC NULLS LAST
        ) AS previous_row_close
    FROM series
),

-- The effective bar of each day that has several rows (its first row).
repeated_days AS (
    SELECT symbol, trade_date, close
    FROM positioned
    WHERE previous_date IS DISTINCT FROM trade_date AND next_date = trade_date
),

returns AS (
    SELECT
        p.*,
        p.previous_date IS DISTINCT FROM p.trade_date AS first_of_day,
        CASE
            WHEN p.second_previous_date IS DISTINCT FROM p.previous_date THEN p.previous_row_close
            ELSE r.close
        END AS previous_close
    FROM positioned AS p
    LEFT JOIN repeated_days AS r
        ON r.symbol = p.symbol AND r.trade_date = p.previous_date
)

SELECT
    symbol,
    trade_date,
    open,
    high,
    low,
    close,
    volume,
    (open + high + low + close) / 4 AS avg_price,
    -- A raw row first of its day has no published bar that day: a new key.
    CASE WHEN first_of_day THEN close / nullif(previous_close, 0) - 1 END AS daily_return,
    ingested_at,
    CAST('{run_id}' AS varchar) AS run_id,
    CAST(year(trade_date) AS integer) AS year
FROM returns
WHERE is_raw AND (first_of_day OR NOT previous_is_raw)
