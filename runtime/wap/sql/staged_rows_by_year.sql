-- Staged rows per year: what publish copies for a year that has no published rows yet.
SELECT year, count(*) AS staged_rows
FROM {staging}
WHERE year IS NOT NULL
GROUP BY year
ORDER BY year
