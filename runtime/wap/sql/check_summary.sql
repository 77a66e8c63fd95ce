-- One dq_results row for one check: its failing rows counted, the ten most telling keys kept.
SELECT
    CAST('{check_name}' AS varchar) AS check_name,
    CAST('{severity}' AS varchar) AS severity,
    count(*) = 0 AS passed,
    count(*) AS failed_rows,
    coalesce(
        array_join(slice(array_agg(failure_key ORDER BY sample_rank DESC, failure_key), 1, 10), ','),
        ''
    ) AS sample_keys
FROM ({check_sql}) AS failures
