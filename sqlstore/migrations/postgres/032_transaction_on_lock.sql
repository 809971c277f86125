-- EUM-CE-CL-30 (issue 14): whether a manual lock during a transaction
-- pauses it (pause) or is refused until it is completed (complete).
ALTER TABLE sites ADD COLUMN transaction_on_lock TEXT NOT NULL DEFAULT 'pause';
