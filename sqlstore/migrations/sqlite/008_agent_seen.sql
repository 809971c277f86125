-- When the terminal's agent last polled (issue 4): a terminal is online
-- while its agent was seen within two poll periods. UTC microseconds.
ALTER TABLE terminals ADD COLUMN agent_seen_at BIGINT NOT NULL DEFAULT 0;
