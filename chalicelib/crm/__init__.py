"""CRM: contacts, tags, timeline, CSV import and export, segments, audiences for campaigns."""
