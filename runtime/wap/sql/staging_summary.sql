-- Size and year span of a staging table.
SELECT
    count(*) AS staged_rows,
    min(year) AS first_year,
    max(year) AS last_year
FROM {staging}
