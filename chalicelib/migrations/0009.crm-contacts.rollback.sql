DROP TABLE IF EXISTS contact_imports;
DROP TABLE IF EXISTS contact_segments;
DROP TABLE IF EXISTS contact_activities;
DROP TABLE IF EXISTS contact_tags;
DROP TABLE IF EXISTS contacts;
