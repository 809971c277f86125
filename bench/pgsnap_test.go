package bench

import "testing"

// walShare counts the transactions that touched the database's pages and
// their records (the commit record too), and the other records on its
// pages, but nothing of another database.
func TestWALShare(t *testing.T) {
	dump := `rmgr: Heap        len (rec/tot):     54/    54, tx:        700, lsn: 0/01000028, prev 0/01000000, desc: INSERT off 3 flags 0x00, blkref #0: rel 1663/16384/16390 blk 0
rmgr: Btree       len (rec/tot):     64/    64, tx:        700, lsn: 0/01000060, prev 0/01000028, desc: INSERT_LEAF off 2, blkref #0: rel 1663/16384/16391 blk 1
rmgr: Transaction len (rec/tot):     34/    34, tx:        700, lsn: 0/010000A0, prev 0/01000060, desc: COMMIT 2026-12-04 13:00:00.000000 UTC
rmgr: Heap        len (rec/tot):     54/    54, tx:        701, lsn: 0/010000C8, prev 0/010000A0, desc: INSERT off 4 flags 0x00, blkref #0: rel 1663/5/16000 blk 0
rmgr: Transaction len (rec/tot):     34/    34, tx:        701, lsn: 0/01000100, prev 0/010000C8, desc: COMMIT 2026-12-04 13:00:00.000001 UTC
rmgr: Heap2       len (rec/tot):     59/  8211, tx:          0, lsn: 0/01000128, prev 0/01000100, desc: PRUNE latestRemovedXid 0, blkref #0: rel 1663/16384/16390 blk 7 FPW
rmgr: Standby     len (rec/tot):     50/    50, tx:          0, lsn: 0/01002158, prev 0/01000128, desc: RUNNING_XACTS nextXid 702
`
	xacts, mine, all := walShare(dump, "16384")
	if xacts != 1 {
		t.Errorf("transactions: got %d, want 1 (700; 701 wrote another database)", xacts)
	}
	if want := int64(54 + 64 + 34 + 8211); mine != want {
		t.Errorf("the database's bytes: got %d, want %d", mine, want)
	}
	if want := int64(54 + 64 + 34 + 54 + 34 + 8211 + 50); all != want {
		t.Errorf("all bytes: got %d, want %d", all, want)
	}
}

func TestProcCPUOfThisProcess(t *testing.T) {
	if _, ok := procCPU(1 << 30); ok {
		t.Error("a pid that does not exist has no CPU")
	}
}
