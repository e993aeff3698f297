-- depends: 0001.core-tables
-- Transactional outbox: an event bound for SQS is written in the publishing transaction
-- and sent after commit; what could not be sent is retried by the outbox relay.

CREATE TABLE event_outbox (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id VARCHAR(64) NOT NULL,
    queue VARCHAR(80) NOT NULL,
    body LONGTEXT NOT NULL,
    attempts INT UNSIGNED NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY event_outbox_event_id_unique (event_id),
    KEY event_outbox_created_at_index (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
