-- Staging rows: every row publish must write, in production's layout. They are the raw bars
-- a run reads (its unconsumed raw objects) that are new or differ from their published bar,
-- and the published bars whose daily_return changes because the bar before them did (a
-- filled gap, a restated close).
--
-- One bar per (symbol, trade_date): the latest ingested raw copy, else the published bar.
-- daily_return = close x F / the previous trading day's close of that effective series - 1,
-- F the product of the factors of the splits effective after the previous session and on
-- or before the day (each symbol's latest split record; a split dated on a closed day
-- applies to the next session); published closes are read from the lookback date on. Raw
-- rows without a symbol or a parseable trade date are kept as they are, for the audit.
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

-- Each symbol's latest split record, a split as ln(factor) on the calendar day before its
-- effective date (ordered after that day's bars below): the running sum of ln(factor) then
-- grows between the last session before the split and the first on or after it. A marker
-- row (no split) and a factor that is not a positive number add nothing.
split_rows AS (
    SELECT
        symbol,
        try_cast(effective_date AS date) AS effective_date,
        try_cast(split_factor AS double) AS split_factor,
        source_object,
        max(source_object) OVER (PARTITION BY symbol) AS latest_object
    FROM ({split_rows}) AS split_source
),

splits AS (
    SELECT symbol, effective_date, ln(split_factor) AS split_ln
    FROM split_rows
    WHERE source_object = latest_object AND effective_date IS NOT NULL AND split_factor > 0
),

published AS (
    SELECT {prod_columns}
    FROM {published} AS published_rows
    WHERE year >= {lookback_year} AND trade_date >= DATE '{lookback_date}'
),

-- Every copy of a day: each raw row (copy_source 1) and each published bar (0); and each
-- split (-1), which is no bar.
copies AS (
    SELECT
        symbol, trade_date, open, high, low, close, volume, ingested_at, source_object,
        1 AS copy_source, 0E0 AS split_ln
    FROM raw
    UNION ALL
    SELECT
        symbol, trade_date, open, high, low, close, volume, ingested_at, '' AS source_object,
        0 AS copy_source, 0E0 AS split_ln
    FROM published
    UNION ALL
    SELECT
        symbol, CAST(date_add('day', -1, effective_date) AS date) AS trade_date,
        CAST(NULL AS double) AS open, CAST(NULL AS double) AS high,
        CAST(NULL AS double) AS low, CAST(NULL AS double) AS close,
        CAST(NULL AS bigint) AS volume, CAST(NULL AS timestamp) AS ingested_at,
        '' AS source_object, -1 AS copy_source, split_ln
    FROM splits
),

-- The first copy of each day in this order is its effective bar: raw before published, the
-- latest ingested raw copy first (two landings in the same second: the later object, as
-- names sort by landing). When no day can have two copies (`one_copy_per_key`: nothing
-- published, one ingested CSV object per symbol), every copy is its day's bar and the
-- engines drop that lag unused; a day twice after all fails the audit's unique_key. The same
-- order sums ln(split factor) up to each copy (a split row sorts after the bars of its day).
ordered_copies AS (
    SELECT
        copies.*,
        lag(trade_date) OVER (
            PARTITION BY symbol
            ORDER BY trade_date, copy_source DESC, ingested_at DESC NULLS LAST,
                source_object DESC
        ) AS previous_copy_date,
        sum(split_ln) OVER (
            PARTITION BY symbol
            ORDER BY trade_date, copy_source DESC, ingested_at DESC NULLS LAST,
                source_object DESC
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS split_ln_to_date
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
        p.daily_return AS published_return,
        c.split_ln_to_date
    FROM ordered_copies AS c
    LEFT JOIN published AS p
        ON p.symbol = c.symbol AND p.trade_date = c.trade_date
    WHERE c.copy_source >= 0 AND (
        {one_copy_per_key}
        OR c.previous_copy_date IS DISTINCT FROM c.trade_date
        OR c.symbol IS NULL
        OR c.trade_date IS NULL
    )
),

-- F is rounded to 9 decimals: exp(ln) is not exact, and a return recomputed from another
-- lookback must equal the published one to the bit (else it would be restated).
returns AS (
    SELECT
        e.*,
        e.close * round(exp(e.split_ln_to_date - lag(e.split_ln_to_date) OVER (
            PARTITION BY e.symbol ORDER BY e.trade_date
        )), 9) / nullif(lag(e.close) OVER (PARTITION BY e.symbol ORDER BY e.trade_date), 0)
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
