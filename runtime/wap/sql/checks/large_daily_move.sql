-- warning: the split-aware daily_return moved more than the threshold. Real crashes and
-- rallies do this (NVDA: +42% on 2000-03-07, -35% on 2004-08-06); a split in the symbol's
-- record does not, one missing from it does (-75% on a 4:1).
SELECT
    symbol || '@' || CAST(trade_date AS varchar) AS failure_key,
    abs(daily_return) AS sample_rank
FROM {staging}
WHERE abs(daily_return) > {max_daily_move}
