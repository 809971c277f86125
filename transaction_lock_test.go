package latchkey

import "testing"

func TestDecideTransactionOnLock(t *testing.T) {
	pause, complete := Site{TransactionOnLock: TransactionPause}, Site{TransactionOnLock: TransactionComplete}
	for _, tc := range []struct {
		name          string
		site          Site
		reason        LockReason
		inTransaction bool
		refused       bool
	}{
		{"pause: a manual lock in a transaction pauses it", pause, LockManual, true, false},
		{"complete: a manual lock in a transaction is refused", complete, LockManual, true, true},
		{"complete: an inactivity lock still locks", complete, LockInactivity, true, false},
		{"complete: no transaction, nothing to decide", complete, LockManual, false, false},
		{"an old site without the setting pauses", Site{}, LockManual, true, false},
	} {
		err := DecideTransactionOnLock(tc.site, tc.reason, tc.inTransaction)
		if (err != nil) != tc.refused {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil && (ErrorCode(err) != ECONFLICT || err.(*Error).Details["transaction"] != "must_complete") {
			t.Errorf("%s: %#v", tc.name, err)
		}
	}
}
