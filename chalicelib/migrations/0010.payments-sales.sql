-- depends: 0006.payments-stripe
-- Creators' own sales (pay blocks): each creator's Stripe Connect Express account as
-- Stripe last showed it, and one order per sale opened from a published pay button.

CREATE TABLE connect_accounts (
    user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    stripe_account_id VARCHAR(255) NOT NULL,
    charges_enabled TINYINT(1) NOT NULL DEFAULT 0,
    payouts_enabled TINYINT(1) NOT NULL DEFAULT 0,
    details_submitted TINYINT(1) NOT NULL DEFAULT 0,
    -- the Stripe time of the view stored, so an older account.updated never overwrites a newer one
    state_as_of BIGINT NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY connect_accounts_stripe_unique (stripe_account_id),
    CONSTRAINT connect_accounts_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per sale: pending when the visitor is sent to Checkout, then paid, refunded or
-- expired. `user_id` is the creator (the seller); the site is not a foreign key, so a
-- sale's record outlives a deleted site.
CREATE TABLE orders (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    site_id BIGINT UNSIGNED NOT NULL,
    block_id VARCHAR(32) NOT NULL,
    title VARCHAR(255) NOT NULL,
    amount INT UNSIGNED NOT NULL,
    currency CHAR(3) NOT NULL,
    application_fee INT UNSIGNED NOT NULL DEFAULT 0,
    status ENUM('pending', 'paid', 'refunded', 'expired') NOT NULL DEFAULT 'pending',
    buyer_email VARCHAR(255) NULL,
    buyer_name VARCHAR(255) NULL,
    stripe_account_id VARCHAR(255) NOT NULL,
    stripe_session_id VARCHAR(255) NULL,
    stripe_payment_intent_id VARCHAR(255) NULL,
    failure_reason VARCHAR(500) NULL,
    paid_at DATETIME(6) NULL,
    refunded_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY orders_session_unique (stripe_session_id),
    KEY orders_intent_index (stripe_payment_intent_id),
    KEY orders_site_index (user_id, site_id, id),
    KEY orders_status_index (status, created_at),
    CONSTRAINT orders_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
