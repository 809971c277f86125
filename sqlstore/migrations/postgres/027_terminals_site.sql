-- A site's terminals in ID order (issue 13, the reservations day view:
-- a page of a site's terminals, and their reservations through
-- reservations_terminal). Before it, listing one site's terminals read
-- every terminal.
CREATE INDEX terminals_site ON terminals (site_id, id);
