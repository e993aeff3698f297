DROP TABLE IF EXISTS event_canaries;
DROP TABLE IF EXISTS processed_events;
DROP TABLE IF EXISTS payment_transactions;
DROP TABLE IF EXISTS sites;
DROP TABLE IF EXISTS users;
