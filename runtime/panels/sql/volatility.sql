-- Annualised Garman-Klass volatility over a rolling window of 20 trading days.
-- Per day: gk = 0.5 * ln(high / low)^2 - (2 ln 2 - 1) * ln(close / open)^2 (a variance);
-- shown: sqrt(252 * mean of the last 20 days' gk), a fraction per year.
-- The inner query reads 40 calendar days before the range (20 trading days span about four
-- weeks, holidays included) so the first day in the range already has a full window, and
-- only the year partitions those days fall in; days without a full window are not shown.
WITH daily AS (
    SELECT
        symbol,
        trade_date,
        0.5 * power(ln(high / low), 2) - (2 * ln(2) - 1) * power(ln(close / open), 2) AS gk
    FROM daily_prices
    WHERE trade_date BETWEEN date_add('day', -40, CAST($__timeFrom() AS date))
        AND CAST($__timeTo() AS date)
        AND year BETWEEN year(date_add('day', -40, CAST($__timeFrom() AS date)))
            AND year($__timeTo())
        AND symbol IN (${symbol:sqlstring})
),
windowed AS (
    SELECT
        symbol,
        trade_date,
        avg(gk) OVER (
            PARTITION BY symbol ORDER BY trade_date ROWS BETWEEN 19 PRECEDING AND CURRENT ROW
        ) AS mean_gk,
        count(*) OVER (
            PARTITION BY symbol ORDER BY trade_date ROWS BETWEEN 19 PRECEDING AND CURRENT ROW
        ) AS window_days
    FROM daily
)
SELECT
    CAST(trade_date AS timestamp) AS time,
    symbol,
    sqrt(252 * greatest(mean_gk, 0)) AS volatility
FROM windowed
WHERE $__dateFilter(trade_date)
    AND window_days = 20
ORDER BY time, symbol
