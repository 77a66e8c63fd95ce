-- Every check's result for one run, in dq_results' layout (run_id last: it is the partition).
SELECT
    check_name,
    severity,
    passed,
    failed_rows,
    sample_keys,
    CAST('{checked_at}' AS timestamp) AS checked_at,
    CAST('{run_id}' AS varchar) AS run_id
FROM ({check_summaries}) AS results
