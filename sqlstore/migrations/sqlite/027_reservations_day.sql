-- Issue 13, the reservations day view.
-- A site's terminals in ID order: a page of a site's terminals, and their
-- reservations through reservations_terminal. Before it, listing one
-- site's terminals read every terminal.
CREATE INDEX terminals_site ON terminals (site_id, id);
-- A person's sessions at a site by start: the daily quota's count (the
-- log-on rule and the day view, quotaUsedBy). Without it SQLite counted
-- through sessions_site_started, reading the whole of the site's history
-- before the day's end (1M sessions on the bench seed's store).
CREATE INDEX sessions_quota ON sessions (principal_id, site_id, started_at);
