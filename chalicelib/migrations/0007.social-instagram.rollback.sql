DROP TABLE IF EXISTS social_account_days;
DROP TABLE IF EXISTS social_posts;
DROP TABLE IF EXISTS social_oauth_states;
DROP TABLE IF EXISTS social_accounts;
