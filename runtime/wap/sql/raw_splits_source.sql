-- Every split row under raw_splits/, with the object it came from: staging keeps each
-- symbol's latest record (the newest object: names sort by dt, then by landing time).
SELECT symbol, effective_date, split_factor, "$path" AS source_object
FROM {raw_splits_table}
