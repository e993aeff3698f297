-- depends: 0005.sites-builder
-- Analytics: raw pageviews (35 days, partitioned by UTC day), hourly and daily rollups per
-- site, daily rollups per dimension, paid orders (revenue), rollup windows to redo, the
-- owner's mail preferences, and the claims that keep digests and alerts to one each.

-- Raw pageviews as the flush inserts them. Nothing here identifies a person: visitor_id is
-- a keyed hash whose key (a daily salt) is deleted after its day; no IP, no user agent.
-- visit_id: the visit the collect route put the pageview in (a visitor's pageviews with gaps
-- under 30 minutes; is_entry marks its first pageview).
-- Partitioned by day so old days go with DROP PARTITION (the analytics_partitions schedule
-- adds tomorrow's partitions out of p_future and drops those older than 35 days). A
-- partitioned table can have no foreign keys and its unique keys must include `day`:
-- (day, event_id) makes a redelivered event insert nothing.
CREATE TABLE analytics_events (
    day DATE NOT NULL,
    event_id BINARY(16) NOT NULL,
    site_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    ts DATETIME(3) NOT NULL,
    visitor_id BIGINT UNSIGNED NOT NULL,
    visit_id BIGINT UNSIGNED NOT NULL,
    is_entry TINYINT(1) NOT NULL DEFAULT 0,
    path VARCHAR(255) NOT NULL,
    source VARCHAR(100) NOT NULL DEFAULT '',
    referrer VARCHAR(255) NOT NULL DEFAULT '',
    utm_source VARCHAR(100) NOT NULL DEFAULT '',
    utm_medium VARCHAR(100) NOT NULL DEFAULT '',
    utm_campaign VARCHAR(100) NOT NULL DEFAULT '',
    country CHAR(2) NOT NULL DEFAULT '',
    device VARCHAR(10) NOT NULL DEFAULT '',
    browser VARCHAR(50) NOT NULL DEFAULT '',
    os VARCHAR(50) NOT NULL DEFAULT '',
    PRIMARY KEY (day, event_id),
    KEY analytics_events_site_ts_index (site_id, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
PARTITION BY RANGE COLUMNS (day) (
    PARTITION p_past VALUES LESS THAN ('2000-01-01'),
    PARTITION p_future VALUES LESS THAN (MAXVALUE)
);

-- Totals per site per UTC hour (the hourly series, spike alerts). Visits and bounces count
-- in the hour their visit started.
CREATE TABLE analytics_hourly (
    site_id BIGINT UNSIGNED NOT NULL,
    hour DATETIME NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    visitors INT UNSIGNED NOT NULL DEFAULT 0,
    visits INT UNSIGNED NOT NULL DEFAULT 0,
    pageviews INT UNSIGNED NOT NULL DEFAULT 0,
    bounces INT UNSIGNED NOT NULL DEFAULT 0,
    duration_s INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, hour),
    KEY analytics_hourly_hour_index (hour),
    KEY analytics_hourly_user_id_index (user_id),
    CONSTRAINT analytics_hourly_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT analytics_hourly_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Totals per site per UTC day, with what other areas count: link clicks, form submissions,
-- paid orders (their revenue per currency is in analytics_daily_revenue).
CREATE TABLE analytics_daily (
    site_id BIGINT UNSIGNED NOT NULL,
    day DATE NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    visitors INT UNSIGNED NOT NULL DEFAULT 0,
    visits INT UNSIGNED NOT NULL DEFAULT 0,
    pageviews INT UNSIGNED NOT NULL DEFAULT 0,
    bounces INT UNSIGNED NOT NULL DEFAULT 0,
    duration_s INT UNSIGNED NOT NULL DEFAULT 0,
    clicks INT UNSIGNED NOT NULL DEFAULT 0,
    form_submissions INT UNSIGNED NOT NULL DEFAULT 0,
    orders INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day),
    KEY analytics_daily_day_index (day),
    KEY analytics_daily_user_id_index (user_id, day),
    CONSTRAINT analytics_daily_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT analytics_daily_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE analytics_daily_revenue (
    site_id BIGINT UNSIGNED NOT NULL,
    day DATE NOT NULL,
    currency CHAR(3) NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    orders INT UNSIGNED NOT NULL DEFAULT 0,
    amount BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, currency),
    KEY analytics_daily_revenue_user_id_index (user_id),
    CONSTRAINT analytics_daily_revenue_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT analytics_daily_revenue_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per dimension (page, source, referrer, utm_source, utm_medium, utm_campaign, country,
-- device, browser, os) per site per day. Values compare byte for byte (paths are case-sensitive).
CREATE TABLE analytics_daily_dimensions (
    site_id BIGINT UNSIGNED NOT NULL,
    day DATE NOT NULL,
    dimension VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    value VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    visitors INT UNSIGNED NOT NULL DEFAULT 0,
    visits INT UNSIGNED NOT NULL DEFAULT 0,
    pageviews INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, dimension, day, value),
    KEY analytics_daily_dimensions_day_index (day),
    KEY analytics_daily_dimensions_user_id_index (user_id),
    CONSTRAINT analytics_daily_dimensions_site_id_foreign FOREIGN KEY (site_id) REFERENCES sites (id) ON DELETE CASCADE,
    CONSTRAINT analytics_daily_dimensions_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Visits of the window being rolled up: written, read and deleted inside the rollup's own
-- transaction, so no other session ever sees a row (the app user may not CREATE TEMPORARY).
CREATE TABLE analytics_rollup_visits (
    day DATE NOT NULL,
    site_id BIGINT UNSIGNED NOT NULL,
    visit_id BIGINT UNSIGNED NOT NULL,
    visitor_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    path VARCHAR(255) NOT NULL,
    started_at DATETIME(3) NOT NULL,
    pageviews INT UNSIGNED NOT NULL,
    duration_s INT UNSIGNED NOT NULL,
    source VARCHAR(100) NOT NULL,
    referrer VARCHAR(255) NOT NULL,
    utm_source VARCHAR(100) NOT NULL,
    utm_medium VARCHAR(100) NOT NULL,
    utm_campaign VARCHAR(100) NOT NULL,
    country CHAR(2) NOT NULL,
    device VARCHAR(10) NOT NULL,
    browser VARCHAR(50) NOT NULL,
    os VARCHAR(50) NOT NULL,
    PRIMARY KEY (day, site_id, visit_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Days to roll up again: the open day, days the flush inserted late events into, days an
-- order was paid or refunded on. `final_at` set = closed and rolled up after it closed.
CREATE TABLE analytics_rollup_days (
    day DATE NOT NULL PRIMARY KEY,
    dirty TINYINT(1) NOT NULL DEFAULT 1,
    rolled_at DATETIME(6) NULL,
    final_at DATETIME(6) NULL,
    KEY analytics_rollup_days_dirty_index (dirty, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Orders paid through a site's pay buttons (`order.paid`), refunded ones kept with status.
CREATE TABLE analytics_orders (
    order_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    site_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    day DATE NOT NULL,
    amount BIGINT NOT NULL,
    currency CHAR(3) NOT NULL,
    status ENUM('paid', 'refunded') NOT NULL DEFAULT 'paid',
    KEY analytics_orders_site_day_index (site_id, day),
    KEY analytics_orders_day_index (day),
    KEY analytics_orders_user_id_index (user_id),
    CONSTRAINT analytics_orders_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The owner's analytics mail: the Monday digest and traffic-spike alerts (default on).
CREATE TABLE analytics_preferences (
    user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    weekly_digest TINYINT(1) NOT NULL DEFAULT 1,
    spike_alerts TINYINT(1) NOT NULL DEFAULT 1,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    CONSTRAINT analytics_preferences_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One claim per mail sent: a digest per user per week, a spike alert per site per day.
CREATE TABLE analytics_notices (
    kind VARCHAR(16) NOT NULL,
    subject_id BIGINT UNSIGNED NOT NULL,
    period DATE NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (kind, subject_id, period),
    KEY analytics_notices_user_id_index (user_id),
    CONSTRAINT analytics_notices_user_id_foreign FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The rollup asks the sites area for the day's clicks and submissions of every site; these
-- let those reads find a day without scanning the whole counters.
ALTER TABLE site_link_clicks ADD KEY site_link_clicks_day_only_index (day);
ALTER TABLE site_form_submissions ADD KEY site_form_submissions_created_index (created_at);
