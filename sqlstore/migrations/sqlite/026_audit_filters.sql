-- The console's Audit screen (issue 13) filters the log by terminal and by
-- time as well as by actor and action (001's indexes): an index for each,
-- so a filter finds its records without reading the whole log. audit_at
-- carries seq so that a time range's records are sorted by seq from the
-- index alone.
CREATE INDEX audit_terminal ON audit(terminal, seq);
CREATE INDEX audit_at ON audit(at, seq);
