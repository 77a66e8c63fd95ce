-- Latest published trading day per symbol. days_behind counts calendar days to today
-- (2 to 4 is a normal weekend or holiday); days_behind_newest counts calendar days
-- behind the most recent trading day of any symbol (non-zero means this symbol lags).
SELECT
    symbol,
    min(trade_date) AS first_trade_date,
    max(trade_date) AS latest_trade_date,
    count(*) AS bars,
    date_diff('day', max(trade_date), current_date) AS days_behind,
    date_diff('day', max(trade_date), max(max(trade_date)) OVER ()) AS days_behind_newest
FROM daily_prices
WHERE symbol IN (${symbol:sqlstring})
GROUP BY symbol
ORDER BY days_behind_newest DESC, symbol
