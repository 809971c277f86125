-- A search for people in Administer Users (issue 13): names by prefix
-- with A-Z folded, like SQLite's lower(), and login IDs by prefix, both in
-- byte order whatever the database's collation.
CREATE INDEX principals_search_name ON principals ((translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"));
CREATE INDEX identities_search_login ON identities ((login COLLATE "C"));
