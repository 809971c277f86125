-- A wake-up that finds a job running (an agent's reply, a decision or a
-- cancellation while the workflow's job runs) marks it woken, so that the
-- run's snooze ends at once: the run may have read the store before the
-- change that woke it committed (latchkey.WakeJob). Every end of the
-- claim clears it.
ALTER TABLE jobs ADD COLUMN woken BOOLEAN NOT NULL DEFAULT FALSE;
