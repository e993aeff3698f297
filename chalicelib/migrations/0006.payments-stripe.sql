-- depends: 0001.core-tables 0003.event-outbox
-- Payments: what a transaction paid for, one Stripe Customer per user, the subscriptions
-- as Stripe holds them, and every webhook event received (the audit trail).

ALTER TABLE payment_transactions
    ADD COLUMN kind VARCHAR(20) NOT NULL DEFAULT 'plan' AFTER user_id,
    ADD COLUMN mode ENUM('payment', 'subscription') NOT NULL DEFAULT 'payment' AFTER package_id,
    ADD COLUMN stripe_customer_id VARCHAR(255) NULL AFTER stripe_session_id,
    ADD COLUMN stripe_subscription_id VARCHAR(255) NULL AFTER stripe_payment_intent_id,
    ADD COLUMN stripe_invoice_id VARCHAR(255) NULL AFTER stripe_subscription_id,
    ADD COLUMN access_until DATETIME(6) NULL AFTER paid_at,
    ADD COLUMN refunded_at DATETIME(6) NULL AFTER access_until,
    ADD COLUMN failure_reason VARCHAR(500) NULL AFTER refunded_at,
    ADD UNIQUE KEY payment_transactions_invoice_unique (stripe_invoice_id),
    ADD KEY payment_transactions_intent_index (stripe_payment_intent_id),
    ADD KEY payment_transactions_subscription_index (stripe_subscription_id),
    ADD KEY payment_transactions_access_index (user_id, status, access_until);

-- The schedule that drops lapsed plans to free finds them by their expiry.
ALTER TABLE users ADD KEY users_plan_expires_at_index (plan_expires_at);

-- One Stripe Customer per user: created once (under the user's row lock) and reused.
CREATE TABLE billing_customers (
    user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    stripe_customer_id VARCHAR(255) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY billing_customers_stripe_unique (stripe_customer_id),
    CONSTRAINT billing_customers_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Each Stripe subscription as last seen (`state_as_of`: the Stripe time of that view, so
-- an older event never overwrites newer state). `status` is Stripe's own word.
CREATE TABLE subscriptions (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    stripe_subscription_id VARCHAR(255) NOT NULL,
    stripe_customer_id VARCHAR(255) NULL,
    package_id VARCHAR(64) NOT NULL,
    plan VARCHAR(32) NOT NULL,
    status VARCHAR(32) NOT NULL,
    current_period_end DATETIME(6) NULL,
    cancel_at_period_end TINYINT(1) NOT NULL DEFAULT 0,
    canceled_at DATETIME(6) NULL,
    ended_at DATETIME(6) NULL,
    stripe_created DATETIME(6) NOT NULL,
    state_as_of BIGINT NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY subscriptions_stripe_unique (stripe_subscription_id),
    KEY subscriptions_user_id_index (user_id, status),
    KEY subscriptions_status_index (status, current_period_end),
    CONSTRAINT subscriptions_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every verified webhook event, stored once whatever the number of deliveries; kept as the
-- audit trail (processed_events, the idempotency claims, is pruned after 30 days).
CREATE TABLE stripe_events (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    stripe_event_id VARCHAR(255) NOT NULL,
    type VARCHAR(100) NOT NULL,
    livemode TINYINT(1) NOT NULL DEFAULT 0,
    event_created DATETIME(6) NOT NULL,
    payload LONGTEXT NOT NULL CHECK (JSON_VALID(payload)),
    received_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    deliveries INT UNSIGNED NOT NULL DEFAULT 1,
    attempts INT UNSIGNED NOT NULL DEFAULT 0,
    processed_at DATETIME(6) NULL,
    outcome VARCHAR(255) NULL,
    last_error TEXT NULL,
    UNIQUE KEY stripe_events_event_unique (stripe_event_id),
    KEY stripe_events_type_index (type, received_at),
    KEY stripe_events_unprocessed_index (processed_at, received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
