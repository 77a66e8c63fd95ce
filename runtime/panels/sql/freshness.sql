-- Per symbol over its whole history: first and latest published trading day and bar count,
-- from symbol_summary (one row per symbol and year, kept by publish), so the table stays
-- complete without reading daily_prices. days_behind counts calendar days to today (2 to 4
-- is a normal weekend or holiday); days_behind_newest counts calendar days behind the most
-- recent trading day of any symbol (non-zero means this symbol lags).
SELECT
    symbol,
    min(first_trade_date) AS first_trade_date,
    max(last_trade_date) AS latest_trade_date,
    sum(bars) AS bars,
    date_diff('day', max(last_trade_date), current_date) AS days_behind,
    date_diff('day', max(last_trade_date), max(max(last_trade_date)) OVER ()) AS days_behind_newest
FROM symbol_summary
WHERE symbol IN (${symbol:sqlstring})
GROUP BY symbol
ORDER BY days_behind_newest DESC, symbol
