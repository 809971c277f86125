-- The cluster's last sign of life (issue 12): every heartbeat moves it
-- on; when it finds the whole cluster was silent longer than
-- the dead-after time (the database was unreachable, or every node was
-- down), the leases that were live when the silence began get its length
-- back, as Chubby's grace period does. Microseconds; 0: never.
CREATE TABLE cluster_clock (
    id         INTEGER PRIMARY KEY,
    last_beat  BIGINT NOT NULL
);
INSERT INTO cluster_clock (id, last_beat) VALUES (1, 0);
