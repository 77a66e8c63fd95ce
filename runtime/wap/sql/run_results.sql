-- The recorded check results of one run.
SELECT check_name, severity, passed, failed_rows, sample_keys, checked_at
FROM dq_results
WHERE run_id = '{run_id}'
ORDER BY check_name
