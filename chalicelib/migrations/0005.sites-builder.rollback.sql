DROP TABLE IF EXISTS site_custom_domains;
DROP TABLE IF EXISTS site_form_submissions;
DROP TABLE IF EXISTS site_link_clicks;
DROP TABLE IF EXISTS site_version_blocks;
DROP TABLE IF EXISTS site_version_pages;
DROP TABLE IF EXISTS site_deployments;
DROP TABLE IF EXISTS site_pages;
ALTER TABLE sites
    DROP INDEX sites_analytics_key_unique,
    DROP COLUMN read_only_reason,
    DROP COLUMN analytics_key,
    DROP COLUMN published_at,
    DROP COLUMN last_version,
    DROP COLUMN live_version;
