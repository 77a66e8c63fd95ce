-- Staging rows: every row publish must write, in production's layout. They are the raw bars
-- a run reads (its unconsumed raw objects) that are new or differ from their published bar,
-- and the published bars whose daily_return changes because the bar before them did (a
-- filled gap, a restated close).
--
-- One bar per (symbol, trade_date): the latest ingested raw copy, else the published bar.
-- daily_return = close / the previous trading day's close of that effective series - 1;
-- published closes are read from the lookback date on. Raw rows without a symbol or a
-- parseable trade date are kept as they are, for the audit to report.
--
-- Every relation is read once (Athena reads a CTE again wherever it is named): the raw rows
-- and the published bars flow through one pipeline, and both windows partition by symbol.
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

published AS (
    SELECT {prod_columns}
    FROM {published} AS published_rows
    WHERE year >= {lookback_year} AND trade_date >= DATE '{lookback_date}'
),

-- Every copy of a day: each raw row (copy_source 1) and each published bar (0).
copies AS (
    SELECT
        symbol, trade_date, open, high, low, close, volume, ingested_at, source_object,
        1 AS copy_source
    FROM raw
    UNION ALL
    SELECT
        symbol, trade_date, open, high, low, close, volume, ingested_at, '' AS source_object,
        0 AS copy_source
    FROM published
),

-- The first copy of each day in this order is its effective bar: raw before published, the
-- latest ingested raw copy first (two landings in the same second: the later object, as
-- names sort by landing). When no day can have two copies (`one_copy_per_key`: nothing
-- published, one ingested CSV object per symbol), every copy is its day's bar and the
-- engines drop this window unused; a day twice after all fails the audit's unique_key.
ordered_copies AS (
    SELECT
        copies.*,
        lag(trade_date) OVER (
            PARTITION BY symbol
            ORDER BY trade_date, copy_source DESC, ingested_at DESC NULLS LAST,
                source_object DESC
        ) AS previous_copy_date
    FROM copies
),

-- Each day's effective bar, with the published bar it would replace (if any); raw rows
-- without a key pass as they are.
effective AS (
    SELECT
        c.symbol, c.trade_date, c.open, c.high, c.low, c.close, c.volume, c.ingested_at,
        c.copy_source = 1 AS from_raw,
        c.symbol IS NULL OR c.trade_date IS NULL AS without_key,
        p.symbol IS NOT NULL AS was_published,
        p.open IS DISTINCT FROM c.open
            OR p.high IS DISTINCT FROM c.high
            OR p.low IS DISTINCT FROM c.low
            OR p.close IS DISTINCT FROM c.close
            OR p.volume IS DISTINCT FROM c.volume AS bar_changed,
        p.avg_price AS published_avg_price,
        p.daily_return AS published_return
    FROM ordered_copies AS c
    LEFT JOIN published AS p
        ON p.symbol = c.symbol AND p.trade_date = c.trade_date
    WHERE {one_copy_per_key}
        OR c.previous_copy_date IS DISTINCT FROM c.trade_date
        OR c.symbol IS NULL
        OR c.trade_date IS NULL
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
    CASE WHEN NOT without_key THEN daily_return END AS daily_return,
    ingested_at,
    CAST('{run_id}' AS varchar) AS run_id,
    CAST(year(trade_date) AS integer) AS year
FROM returns
WHERE without_key
    OR (from_raw AND (NOT was_published OR bar_changed))
    OR (
        trade_date > first_raw_date
        AND daily_return IS DISTINCT FROM published_return
    )
