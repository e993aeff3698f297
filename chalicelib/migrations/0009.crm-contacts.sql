-- depends: 0001.core-tables 0003.event-outbox
-- CRM: contacts (one per owner and canonical email), their tags (own table, so filtering
-- by tag is an index lookup), a timeline of activities, saved segments, and CSV imports
-- with the checkpoint that lets a dead import function resume where it stopped.

CREATE TABLE contacts (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    email VARCHAR(255) NOT NULL,
    -- core/validation.canonical_email: uniqueness per owner, case-insensitively.
    email_canonical VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    -- '' when unknown (the API shows null): keeps the sort index usable.
    name VARCHAR(255) NOT NULL DEFAULT '',
    phone VARCHAR(64) NOT NULL DEFAULT '',
    fields TEXT NOT NULL,
    source ENUM('manual', 'import', 'form', 'purchase', 'api') NOT NULL,
    status ENUM('subscribed', 'pending', 'unsubscribed', 'bounced', 'complained') NOT NULL DEFAULT 'subscribed',
    consent_at DATETIME(6) NULL,
    consent_method VARCHAR(16) NULL,
    consent_page VARCHAR(2048) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    last_activity_at DATETIME(6) NULL,
    UNIQUE KEY contacts_user_email_unique (user_id, email_canonical),
    KEY contacts_user_id_index (user_id, id),
    KEY contacts_user_status_index (user_id, status, id),
    KEY contacts_user_source_index (user_id, source, id),
    KEY contacts_user_created_index (user_id, created_at),
    KEY contacts_user_name_index (user_id, name),
    CONSTRAINT contacts_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Tags compare case-insensitively (the collation): "VIP" and "vip" are one tag.
CREATE TABLE contact_tags (
    contact_id BIGINT UNSIGNED NOT NULL,
    tag VARCHAR(64) NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (contact_id, tag),
    KEY contact_tags_user_tag_index (user_id, tag, contact_id),
    CONSTRAINT contact_tags_contact_id_foreign FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE contact_activities (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    contact_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    type VARCHAR(32) NOT NULL,
    data TEXT NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY contact_activities_contact_index (contact_id, id),
    CONSTRAINT contact_activities_contact_id_foreign FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE contact_segments (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    name VARCHAR(255) NOT NULL,
    filter TEXT NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY contact_segments_user_index (user_id, id),
    CONSTRAINT contact_segments_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- An import's counters and `next_row` (the checkpoint) change in the transaction that
-- applies each chunk, so a function that dies mid-file resumes exactly after the last
-- committed chunk.
CREATE TABLE contact_imports (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    status ENUM('queued', 'running', 'done', 'failed') NOT NULL DEFAULT 'queued',
    storage_key VARCHAR(255) NOT NULL,
    filename VARCHAR(255) NULL,
    total INT UNSIGNED NULL,
    next_row INT UNSIGNED NOT NULL DEFAULT 0,
    created INT UNSIGNED NOT NULL DEFAULT 0,
    updated INT UNSIGNED NOT NULL DEFAULT 0,
    skipped INT UNSIGNED NOT NULL DEFAULT 0,
    errors TEXT NOT NULL,
    message VARCHAR(500) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    finished_at DATETIME(6) NULL,
    KEY contact_imports_user_index (user_id, id),
    CONSTRAINT contact_imports_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
