-- A person's check-outs, listed on My access (issue 13).
CREATE INDEX checkouts_principal ON checkouts (principal_id, status, id);
