-- depends: 0002.accounts-access 0003.event-outbox
-- Accounts security (issue 7): one canonical email per account, a security stamp in every
-- signed account link, a session generation that outlives Redis, token expiry, the record
-- of email changes (for their undo link), and an outbox that backs off and dead-letters.

-- email keeps the address as typed (cleaned); email_canonical, compared byte for byte, is
-- the identity. 0004.accounts-canonical-emails fills it for existing rows; rows left NULL
-- are listed in email_canonical_conflicts.
ALTER TABLE users
    ADD COLUMN email_canonical VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL AFTER email,
    ADD COLUMN security_stamp VARCHAR(32) NOT NULL DEFAULT '' AFTER password_hash,
    ADD COLUMN session_generation INT UNSIGNED NOT NULL DEFAULT 0 AFTER security_stamp,
    DROP INDEX users_email_unique,
    ADD UNIQUE KEY users_email_canonical_unique (email_canonical);

ALTER TABLE api_tokens
    ADD COLUMN expires_at DATETIME(6) NULL AFTER last_used_at;

ALTER TABLE event_outbox
    ADD COLUMN status ENUM('pending', 'dead') NOT NULL DEFAULT 'pending' AFTER attempts,
    ADD COLUMN next_attempt_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) AFTER status,
    ADD COLUMN last_error VARCHAR(500) NULL AFTER next_attempt_at,
    ADD KEY event_outbox_due_index (status, next_attempt_at, id);

-- One row per applied email change: the old address gets a link to undo it, once.
CREATE TABLE email_changes (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    old_email VARCHAR(255) NOT NULL,
    new_email VARCHAR(255) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    undone_at DATETIME(6) NULL,
    KEY email_changes_user_id_index (user_id, id),
    CONSTRAINT email_changes_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Accounts whose address could not get its canonical key: another account already has
-- it ('duplicate'; kept_user_id says which) or it has no safe canonical form ('unsafe').
-- They cannot sign in or reset by email until staff resolve them; nothing is merged.
CREATE TABLE email_canonical_conflicts (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    email VARCHAR(255) NOT NULL,
    canonical VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    kept_user_id BIGINT UNSIGNED NULL,
    reason ENUM('duplicate', 'unsafe') NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    resolved_at DATETIME(6) NULL,
    KEY email_canonical_conflicts_user_id_index (user_id),
    CONSTRAINT email_canonical_conflicts_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
