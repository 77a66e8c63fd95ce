-- error: an object in the raw zone that no raw table reads where it is: a folder that is not
-- dt=YYYY-MM-DD (a real date, not in the future), an object outside a dt folder or nested
-- below one, a file that is not the table's format, or an object the run read no row from
-- (listed when staging was built).
SELECT
    misplaced.object AS failure_key,
    0.0 AS sample_rank
FROM UNNEST(CAST(ARRAY[{misplaced_raw}] AS array(varchar))) AS misplaced (object)
