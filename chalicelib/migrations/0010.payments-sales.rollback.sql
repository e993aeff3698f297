DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS connect_accounts;
