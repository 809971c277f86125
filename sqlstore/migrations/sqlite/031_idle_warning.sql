-- The warning before a forced timeout (issue 14, EUM-CE-CL-100): the last
-- activity a session was warned for; any activity since starts a new idle
-- spell, warned again.
ALTER TABLE sessions ADD COLUMN idle_warned_for BIGINT NOT NULL DEFAULT 0;
