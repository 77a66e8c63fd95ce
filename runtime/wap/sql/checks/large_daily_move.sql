-- warning: close moved more than the threshold against the previous trading day's close.
-- Splits and real crashes do this (NVDA: -75% on the 2021 4:1 split, +42% on 2000-03-07).
SELECT
    symbol || '@' || CAST(trade_date AS varchar) AS failure_key,
    abs(daily_return) AS sample_rank
FROM {staging}
WHERE abs(daily_return) > {max_daily_move}
