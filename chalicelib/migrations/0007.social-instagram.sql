-- depends: 0001.core-tables 0003.event-outbox
-- Social: Instagram professional accounts connected through Instagram Login, the OAuth
-- states that connect them, scheduled posts and a daily history of followers and reach.

CREATE TABLE social_accounts (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    ig_user_id VARCHAR(32) NOT NULL,
    username VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL DEFAULT '',
    profile_picture_url TEXT NULL,
    followers_count INT UNSIGNED NOT NULL DEFAULT 0,
    media_count INT UNSIGNED NOT NULL DEFAULT 0,
    status ENUM('connected', 'expired', 'revoked') NOT NULL DEFAULT 'connected',
    -- AES-256-GCM (version byte + nonce + ciphertext + tag); NULL once disconnected.
    token_ciphertext VARBINARY(2048) NULL,
    token_expires_at DATETIME(6) NULL,
    token_refreshed_at DATETIME(6) NULL,
    connected_at DATETIME(6) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY social_accounts_user_ig_unique (user_id, ig_user_id),
    KEY social_accounts_refresh_index (status, token_expires_at),
    CONSTRAINT social_accounts_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Single-use OAuth states: only the SHA-256 of the state is kept; a row is deleted when used.
CREATE TABLE social_oauth_states (
    state_hash CHAR(64) NOT NULL PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY social_oauth_states_expires_index (expires_at),
    CONSTRAINT social_oauth_states_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE social_posts (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    account_id BIGINT UNSIGNED NOT NULL,
    caption TEXT NOT NULL,
    image_url VARCHAR(2048) NOT NULL,
    scheduled_at DATETIME(6) NOT NULL,
    status ENUM('scheduled', 'publishing', 'published', 'failed', 'canceled') NOT NULL DEFAULT 'scheduled',
    attempts INT UNSIGNED NOT NULL DEFAULT 0,
    failures INT UNSIGNED NOT NULL DEFAULT 0,
    error VARCHAR(1000) NULL,
    container_id VARCHAR(64) NULL,
    media_id VARCHAR(64) NULL,
    permalink VARCHAR(2048) NULL,
    published_at DATETIME(6) NULL,
    -- When the scheduler should look at the post next (due time, retry, or the end of a
    -- worker's lease); NULL once the post is done, so the index holds only live posts.
    next_attempt_at DATETIME(6) NULL,
    claim_id CHAR(32) NULL,
    worker_id CHAR(32) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY social_posts_user_id_index (user_id, id),
    KEY social_posts_user_scheduled_index (user_id, scheduled_at),
    KEY social_posts_due_index (next_attempt_at),
    CONSTRAINT social_posts_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT social_posts_account_id_foreign FOREIGN KEY (account_id) REFERENCES social_accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per account and UTC day: followers as counted that day (daily snapshot) and the
-- day's reach and views (filled the next day), kept longer than Instagram's 30-day window.
CREATE TABLE social_account_days (
    account_id BIGINT UNSIGNED NOT NULL,
    day DATE NOT NULL,
    followers_count INT UNSIGNED NULL,
    reach INT UNSIGNED NULL,
    views INT UNSIGNED NULL,
    PRIMARY KEY (account_id, day),
    CONSTRAINT social_account_days_account_id_foreign FOREIGN KEY (account_id) REFERENCES social_accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
