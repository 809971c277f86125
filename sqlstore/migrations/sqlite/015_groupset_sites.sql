-- Group sets limited to sites (issue 10): sites is a JSON array of site
-- IDs; empty means every site.
ALTER TABLE groupsets ADD COLUMN sites TEXT NOT NULL DEFAULT '[]';
