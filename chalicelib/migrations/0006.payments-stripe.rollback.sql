DROP TABLE IF EXISTS stripe_events;
DROP TABLE IF EXISTS subscriptions;
DROP TABLE IF EXISTS billing_customers;
ALTER TABLE users DROP KEY users_plan_expires_at_index;
ALTER TABLE payment_transactions
    DROP KEY payment_transactions_access_index,
    DROP KEY payment_transactions_subscription_index,
    DROP KEY payment_transactions_intent_index,
    DROP KEY payment_transactions_invoice_unique,
    DROP COLUMN failure_reason,
    DROP COLUMN refunded_at,
    DROP COLUMN access_until,
    DROP COLUMN stripe_invoice_id,
    DROP COLUMN stripe_subscription_id,
    DROP COLUMN stripe_customer_id,
    DROP COLUMN mode,
    DROP COLUMN kind;
