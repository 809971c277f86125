-- A search for people in Administer Users (issue 13): names by prefix
-- with A-Z folded (SQLite's lower() folds only those), login IDs by
-- prefix through their primary key.
CREATE INDEX principals_search_name ON principals (lower(name));
