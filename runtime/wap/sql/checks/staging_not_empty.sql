-- error: raw had rows in the run's window (as counted when staging was built), so staging
-- must have rows too.
SELECT
    'raw_daily_prices@dt>=' || '{watermark}' AS failure_key,
    0.0 AS sample_rank
FROM (SELECT {window_raw_rows} AS raw_rows) AS window_rows
WHERE window_rows.raw_rows > 0
    AND NOT EXISTS (SELECT 1 FROM {staging})
