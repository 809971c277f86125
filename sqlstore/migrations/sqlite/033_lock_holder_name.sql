-- Issue 15: the holder's name kept with the lock, so that an operation on
-- a held lock reads its row in one statement (the upsert's RETURNING)
-- instead of a second round trip for the name. Principals are not
-- renamed, so the copy cannot go stale.
ALTER TABLE locks ADD COLUMN holder_name TEXT NOT NULL DEFAULT '';
UPDATE locks SET holder_name = COALESCE((SELECT p.name FROM principals p WHERE p.id = locks.holder_principal), '')
    WHERE holder_principal IS NOT NULL;
