-- depends: 0001.core-tables 0003.event-outbox
-- Email: campaigns, the recipients each send snapshots (one row per campaign and contact:
-- the claim that makes every send happen at most once), tracked links and opens/clicks,
-- suppression lists, SES feedback, automations (drip / welcome sequences) and monthly usage.
-- Contacts belong to the CRM: contact_id is only a reference (the CRM service is asked).

CREATE TABLE email_settings (
    user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    -- CAN-SPAM: a valid physical postal address in every campaign's footer.
    postal_address VARCHAR(500) NOT NULL DEFAULT '',
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    CONSTRAINT email_settings_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE email_campaigns (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    -- 'campaign' rows are the API's campaigns; 'automation' rows carry one automation step
    -- (the same sender, tokens and stats serve both) and are never listed as campaigns.
    kind ENUM('campaign', 'automation') NOT NULL DEFAULT 'campaign',
    name VARCHAR(255) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    preheader VARCHAR(255) NOT NULL DEFAULT '',
    from_name VARCHAR(100) NOT NULL DEFAULT '',
    reply_to VARCHAR(255) NULL,
    body_markdown MEDIUMTEXT NOT NULL,
    segment_id BIGINT UNSIGNED NULL,
    status ENUM('draft', 'scheduled', 'sending', 'sent', 'canceled', 'failed') NOT NULL DEFAULT 'draft',
    scheduled_at DATETIME(6) NULL,
    started_at DATETIME(6) NULL,
    sent_at DATETIME(6) NULL,
    total INT UNSIGNED NOT NULL DEFAULT 0,
    done INT UNSIGNED NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY email_campaigns_user_index (user_id, kind, id),
    KEY email_campaigns_due_index (status, scheduled_at),
    CONSTRAINT email_campaigns_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The audience as it was when the campaign started (or an automation step fell due).
-- status: pending -> sending (claimed, committed before SES is called) -> sent | failed;
-- a transient SES error puts it back to pending with next_attempt_at (bounded attempts).
CREATE TABLE campaign_recipients (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    campaign_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    contact_id BIGINT UNSIGNED NOT NULL,
    email VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL DEFAULT '',
    fields JSON NULL,
    status ENUM('pending', 'sending', 'sent', 'failed') NOT NULL DEFAULT 'pending',
    attempts TINYINT UNSIGNED NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6) NULL,
    claimed_at DATETIME(6) NULL,
    sent_at DATETIME(6) NULL,
    error VARCHAR(500) NULL,
    ses_message_id VARCHAR(128) NULL,
    delivered_at DATETIME(6) NULL,
    opened_at DATETIME(6) NULL,
    clicked_at DATETIME(6) NULL,
    opens INT UNSIGNED NOT NULL DEFAULT 0,
    clicks INT UNSIGNED NOT NULL DEFAULT 0,
    bounced_at DATETIME(6) NULL,
    complained_at DATETIME(6) NULL,
    unsubscribed_at DATETIME(6) NULL,
    UNIQUE KEY campaign_recipients_campaign_contact_unique (campaign_id, contact_id),
    UNIQUE KEY campaign_recipients_ses_message_unique (ses_message_id),
    KEY campaign_recipients_status_index (campaign_id, status, next_attempt_at),
    KEY campaign_recipients_sent_index (status, sent_at),
    KEY campaign_recipients_contact_index (user_id, contact_id),
    CONSTRAINT campaign_recipients_campaign_id_foreign FOREIGN KEY (campaign_id) REFERENCES email_campaigns (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The links of a sent campaign: a click token names one of these, never a URL.
CREATE TABLE email_links (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    campaign_id BIGINT UNSIGNED NOT NULL,
    position INT UNSIGNED NOT NULL,
    url VARCHAR(2048) NOT NULL,
    clicks INT UNSIGNED NOT NULL DEFAULT 0,
    UNIQUE KEY email_links_campaign_position_unique (campaign_id, position),
    CONSTRAINT email_links_campaign_id_foreign FOREIGN KEY (campaign_id) REFERENCES email_campaigns (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every open and click (the totals and the 48-hour chart); unique counts live on the recipient.
CREATE TABLE email_tracking (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    campaign_id BIGINT UNSIGNED NOT NULL,
    recipient_id BIGINT UNSIGNED NOT NULL,
    kind ENUM('open', 'click') NOT NULL,
    link_id BIGINT UNSIGNED NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY email_tracking_campaign_index (campaign_id, created_at),
    CONSTRAINT email_tracking_campaign_id_foreign FOREIGN KEY (campaign_id) REFERENCES email_campaigns (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Addresses never sent to: per owner (user_id set), or platform-wide (user_id 0: complaints).
CREATE TABLE email_suppressions (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
    email VARCHAR(255) NOT NULL,
    reason ENUM('bounced', 'complained', 'unsubscribed', 'manual') NOT NULL,
    note VARCHAR(255) NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY email_suppressions_user_email_unique (user_id, email),
    KEY email_suppressions_email_index (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- SES notifications applied once: (SES message id, notification type).
CREATE TABLE email_feedback (
    ses_message_id VARCHAR(128) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    recipient_id BIGINT UNSIGNED NULL,
    detail VARCHAR(255) NOT NULL DEFAULT '',
    received_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (ses_message_id, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE email_automations (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    name VARCHAR(255) NOT NULL,
    trigger_type ENUM('contact_added', 'tag_added', 'form_submitted', 'purchase') NOT NULL,
    trigger_tag VARCHAR(64) NULL,
    trigger_site_id BIGINT UNSIGNED NULL,
    status ENUM('active', 'paused') NOT NULL DEFAULT 'paused',
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY email_automations_user_index (user_id, id),
    KEY email_automations_trigger_index (user_id, trigger_type, status),
    CONSTRAINT email_automations_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Steps in order; each carries its email as an 'automation' campaign row.
CREATE TABLE email_automation_steps (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    automation_id BIGINT UNSIGNED NOT NULL,
    position INT UNSIGNED NOT NULL,
    delay_hours INT UNSIGNED NOT NULL,
    campaign_id BIGINT UNSIGNED NOT NULL,
    UNIQUE KEY email_automation_steps_position_unique (automation_id, position),
    CONSTRAINT email_automation_steps_automation_id_foreign FOREIGN KEY (automation_id) REFERENCES email_automations (id) ON DELETE CASCADE,
    CONSTRAINT email_automation_steps_campaign_id_foreign FOREIGN KEY (campaign_id) REFERENCES email_campaigns (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A contact (or, for a form or purchase, an address the CRM is about to add) entered an
-- automation: once, ever (unique). next_due_at is NULL once completed or stopped.
CREATE TABLE email_enrollments (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    automation_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    email VARCHAR(255) NOT NULL,
    contact_id BIGINT UNSIGNED NULL,
    status ENUM('active', 'completed', 'stopped') NOT NULL DEFAULT 'active',
    next_position INT UNSIGNED NOT NULL DEFAULT 0,
    next_due_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY email_enrollments_automation_email_unique (automation_id, email),
    KEY email_enrollments_due_index (status, next_due_at),
    KEY email_enrollments_contact_index (user_id, contact_id),
    CONSTRAINT email_enrollments_automation_id_foreign FOREIGN KEY (automation_id) REFERENCES email_automations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Sends per owner and calendar month (UTC), reserved when a campaign's audience is
-- snapshotted and counted per automation email: the plan quota reads this.
CREATE TABLE email_usage (
    user_id BIGINT UNSIGNED NOT NULL,
    month CHAR(7) NOT NULL,
    sends INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, month),
    CONSTRAINT email_usage_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
