-- Every check of the latest audit run (the run with the newest checked_at),
-- failures first: errors, then warnings, then passed checks.
SELECT
    CASE
        WHEN passed THEN 'passed'
        WHEN severity = 'error' THEN 'failed'
        ELSE 'warning'
    END AS status,
    check_name,
    severity,
    failed_rows,
    sample_keys,
    run_id,
    checked_at
FROM dq_results
WHERE run_id = (
    SELECT run_id
    FROM dq_results
    ORDER BY checked_at DESC, run_id DESC
    LIMIT 1
)
ORDER BY passed, CASE severity WHEN 'error' THEN 0 ELSE 1 END, check_name
