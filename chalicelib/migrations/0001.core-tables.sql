-- The seed's core tables (users, sites, payment_transactions) and the event bookkeeping
-- every idempotent handler relies on. Times are UTC DATETIME(6); money is minor units.

CREATE TABLE users (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    email VARCHAR(255) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role ENUM('user', 'admin', 'super_admin') NOT NULL DEFAULT 'user',
    plan ENUM('free', 'starter', 'professional', 'enterprise') NOT NULL DEFAULT 'free',
    plan_expires_at DATETIME(6) NULL,
    status ENUM('active', 'suspended') NOT NULL DEFAULT 'active',
    email_verified_at DATETIME(6) NULL,
    last_login_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY users_email_unique (email),
    KEY users_role_index (role),
    KEY users_created_at_index (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE sites (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    name VARCHAR(255) NOT NULL,
    domain VARCHAR(100) NOT NULL,
    template ENUM('professional', 'modern', 'classic') NOT NULL DEFAULT 'professional',
    status ENUM('inactive', 'active', 'suspended') NOT NULL DEFAULT 'inactive',
    settings LONGTEXT NOT NULL DEFAULT '{}' CHECK (JSON_VALID(settings)),
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY sites_domain_unique (domain),
    KEY sites_user_id_index (user_id, id),
    KEY sites_status_index (status),
    CONSTRAINT sites_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE payment_transactions (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    package_id VARCHAR(64) NOT NULL,
    amount INT UNSIGNED NOT NULL,
    currency CHAR(3) NOT NULL DEFAULT 'usd',
    status ENUM('pending', 'paid', 'failed', 'refunded', 'expired') NOT NULL DEFAULT 'pending',
    stripe_session_id VARCHAR(255) NULL,
    stripe_payment_intent_id VARCHAR(255) NULL,
    metadata LONGTEXT NOT NULL DEFAULT '{}' CHECK (JSON_VALID(metadata)),
    paid_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY payment_transactions_session_unique (stripe_session_id),
    KEY payment_transactions_user_id_index (user_id, id),
    KEY payment_transactions_status_index (status, created_at),
    CONSTRAINT payment_transactions_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per (handler, event): claimed in the same transaction as the handler's effect.
CREATE TABLE processed_events (
    handler VARCHAR(100) NOT NULL,
    event_id VARCHAR(64) NOT NULL,
    processed_at DATETIME(6) NOT NULL,
    PRIMARY KEY (handler, event_id),
    KEY processed_events_processed_at_index (processed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The event canary: a scheduled function publishes one, the system queue consumes it,
-- so a broken queue wiring shows as a growing gap between published and consumed.
CREATE TABLE event_canaries (
    event_id VARCHAR(64) NOT NULL PRIMARY KEY,
    published_at DATETIME(6) NOT NULL,
    consumed_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
