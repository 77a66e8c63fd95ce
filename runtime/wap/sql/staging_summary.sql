-- Size, year span and newest raw partition of a staging table.
SELECT
    count(*) AS staged_rows,
    min(year) AS first_year,
    max(year) AS last_year,
    max(source_dt) AS last_dt
FROM {staging}
