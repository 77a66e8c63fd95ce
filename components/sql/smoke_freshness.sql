-- make smoke: the published table's newest trade date and size, in the analytics workgroup.
SELECT max(trade_date) AS newest_trade_date, count(*) AS row_count
FROM daily_prices
