-- error: the raw objects the run read hold bars that are not published as they are (counted
-- when staging was built), so staging must have rows.
SELECT
    'raw objects: ' || CAST({unpublished_raw_keys} AS varchar) || ' unpublished keys' AS failure_key,
    0.0 AS sample_rank
FROM (SELECT {unpublished_raw_keys} AS unpublished_keys) AS window_keys
WHERE window_keys.unpublished_keys > 0
    AND NOT EXISTS (SELECT 1 FROM {staging})
