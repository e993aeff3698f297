-- depends: 0001.core-tables 0003.event-outbox
-- Sites: pages with their blocks, published versions (deployments and what each one
-- froze), link clicks per day, form submissions and custom domains.

ALTER TABLE sites
    ADD COLUMN live_version INT UNSIGNED NULL AFTER settings,
    ADD COLUMN last_version INT UNSIGNED NOT NULL DEFAULT 0 AFTER live_version,
    ADD COLUMN published_at DATETIME(6) NULL AFTER last_version,
    ADD COLUMN analytics_key CHAR(24) NULL AFTER published_at,
    ADD COLUMN read_only_reason VARCHAR(255) NULL AFTER analytics_key,
    ADD UNIQUE KEY sites_analytics_key_unique (analytics_key);

-- The editable pages (the draft). Blocks are a JSON list, in order.
CREATE TABLE site_pages (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    site_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    slug VARCHAR(64) NOT NULL,
    title VARCHAR(255) NOT NULL,
    position INT UNSIGNED NOT NULL DEFAULT 0,
    blocks LONGTEXT NOT NULL DEFAULT '[]' CHECK (JSON_VALID(blocks)),
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY site_pages_slug_unique (site_id, slug),
    KEY site_pages_site_position_index (site_id, position, id),
    KEY site_pages_user_id_index (user_id),
    CONSTRAINT site_pages_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT site_pages_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One publish (or rollback) of a site: a version number, its progress and outcome.
-- `snapshot` freezes the site's name, template and settings at publish time;
-- `source_version` set means "render that earlier version's pages again" (link schedules).
CREATE TABLE site_deployments (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    site_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    version INT UNSIGNED NOT NULL,
    kind ENUM('publish', 'rollback', 'schedule') NOT NULL DEFAULT 'publish',
    source_version INT UNSIGNED NULL,
    status ENUM('queued', 'rendering', 'live', 'superseded', 'failed') NOT NULL DEFAULT 'queued',
    progress_done INT UNSIGNED NOT NULL DEFAULT 0,
    progress_total INT UNSIGNED NOT NULL DEFAULT 0,
    error VARCHAR(500) NULL,
    snapshot LONGTEXT NOT NULL DEFAULT '{}' CHECK (JSON_VALID(snapshot)),
    rendered_at DATETIME(6) NULL,
    files_deleted_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    finished_at DATETIME(6) NULL,
    UNIQUE KEY site_deployments_version_unique (site_id, version),
    KEY site_deployments_site_index (site_id, id),
    KEY site_deployments_user_id_index (user_id),
    KEY site_deployments_status_index (status, created_at),
    CONSTRAINT site_deployments_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT site_deployments_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The pages a version was rendered from (what rollback and link schedules re-serve).
CREATE TABLE site_version_pages (
    site_id BIGINT UNSIGNED NOT NULL,
    version INT UNSIGNED NOT NULL,
    page_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    slug VARCHAR(64) NOT NULL,
    title VARCHAR(255) NOT NULL,
    position INT UNSIGNED NOT NULL,
    blocks LONGTEXT NOT NULL CHECK (JSON_VALID(blocks)),
    PRIMARY KEY (site_id, version, page_id),
    KEY site_version_pages_user_id_index (user_id),
    CONSTRAINT site_version_pages_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT site_version_pages_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every block of a version, findable by its opaque id: /go/, forms and (later) pay read
-- the live version's copy; the link schedule reads the boundaries.
CREATE TABLE site_version_blocks (
    block_id VARCHAR(32) NOT NULL,
    site_id BIGINT UNSIGNED NOT NULL,
    version INT UNSIGNED NOT NULL,
    page_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    type VARCHAR(16) NOT NULL,
    data LONGTEXT NOT NULL CHECK (JSON_VALID(data)),
    visible TINYINT(1) NOT NULL DEFAULT 1,
    starts_at DATETIME(6) NULL,
    ends_at DATETIME(6) NULL,
    PRIMARY KEY (block_id, site_id, version),
    KEY site_version_blocks_version_index (site_id, version),
    KEY site_version_blocks_starts_index (starts_at),
    KEY site_version_blocks_ends_index (ends_at),
    KEY site_version_blocks_user_id_index (user_id),
    CONSTRAINT site_version_blocks_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT site_version_blocks_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Clicks per link per UTC day: one upsert per click.
CREATE TABLE site_link_clicks (
    site_id BIGINT UNSIGNED NOT NULL,
    link_id VARCHAR(32) NOT NULL,
    day DATE NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    clicks INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, link_id, day),
    KEY site_link_clicks_day_index (site_id, day),
    KEY site_link_clicks_user_id_index (user_id),
    CONSTRAINT site_link_clicks_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT site_link_clicks_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE site_form_submissions (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    site_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    page_id BIGINT UNSIGNED NOT NULL,
    block_id VARCHAR(32) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    data LONGTEXT NOT NULL CHECK (JSON_VALID(data)),
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY site_form_submissions_site_index (site_id, id),
    KEY site_form_submissions_user_id_index (user_id),
    CONSTRAINT site_form_submissions_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT site_form_submissions_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- At most one custom domain per site; a hostname belongs to one site.
CREATE TABLE site_custom_domains (
    site_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    domain VARCHAR(253) NOT NULL,
    status ENUM('pending', 'verified', 'failed') NOT NULL DEFAULT 'pending',
    token CHAR(32) NOT NULL,
    reason VARCHAR(255) NULL,
    checked_at DATETIME(6) NULL,
    verified_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY site_custom_domains_domain_unique (domain),
    KEY site_custom_domains_status_index (status, checked_at),
    KEY site_custom_domains_user_id_index (user_id),
    CONSTRAINT site_custom_domains_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT site_custom_domains_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
