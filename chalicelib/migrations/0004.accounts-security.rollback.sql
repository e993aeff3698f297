DROP TABLE IF EXISTS email_canonical_conflicts;
DROP TABLE IF EXISTS email_changes;
ALTER TABLE event_outbox DROP KEY event_outbox_due_index, DROP COLUMN last_error, DROP COLUMN next_attempt_at, DROP COLUMN status;
ALTER TABLE api_tokens DROP COLUMN expires_at;
-- Fails if two addresses now differ only in ways utf8mb4_unicode_ci ignores (the reason for 0004).
ALTER TABLE users DROP INDEX users_email_canonical_unique, ADD UNIQUE KEY users_email_unique (email), DROP COLUMN session_generation, DROP COLUMN security_stamp, DROP COLUMN email_canonical;
