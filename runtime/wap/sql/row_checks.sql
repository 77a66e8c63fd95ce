-- One dq_results row for each row check (a check that tests every staging row on its own),
-- all of them from one pass over staging. Per check, `aggregates` counts the failing rows and
-- keeps the ten most telling keys, as check_summary does for a check of its own.
SELECT
    checks.check_name,
    checks.severity,
    {failed_rows} = 0 AS passed,
    {failed_rows} AS failed_rows,
    {sample_keys} AS sample_keys
FROM (
    SELECT
        {aggregates}
    FROM {staging}
) AS per_check
CROSS JOIN (VALUES {check_list}) AS checks (position, check_name, severity)
