-- The sessions board and a person's page (issue 13, screen 5). Each
-- terminal's latest session (the board shows a terminal whose latest
-- session FAILED as failed) is one step down this index instead of a
-- scan of the terminal's history, and the board's failed and free
-- filters look it up only for the few terminals that ever had a FAILED
-- session (the small partial index); the deferred events 24/25/26
-- reported for a person are found by their login IDs, newest first.
CREATE INDEX sessions_terminal_started ON sessions (terminal_id, started_at, id);
CREATE INDEX sessions_failed_terminal ON sessions (terminal_id) WHERE status = 'failed';
CREATE INDEX terminal_events_identity ON terminal_events (identity, seq);
