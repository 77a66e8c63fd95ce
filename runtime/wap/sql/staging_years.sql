-- One slice of the staging rows, by year, for engines that write a limited number of
-- partitions per CTAS (Athena: 100). Rows without a year (unparseable trade dates, left for
-- the audit to report) go with the first slice.
SELECT {prod_columns}
FROM ({staging_rows}) AS staged
WHERE year BETWEEN {first_year} AND {last_year}
    OR (year IS NULL AND {with_unknown_year})
