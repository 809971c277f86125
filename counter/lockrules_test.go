package counter

import "testing"

func TestLockButtonEnabled(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    ButtonState
		want bool
	}{
		{"before log-on", ButtonState{}, false},
		{"before log-on, a message passing", ButtonState{Transient: true}, false},
		{"logged on, on the menu or in a transaction", ButtonState{LoggedOn: true}, true},
		{"a transient message box on the screen", ButtonState{LoggedOn: true, Transient: true}, false},
		{"locked already", ButtonState{LoggedOn: true, Locked: true}, false},
		{"locked, a message passing", ButtonState{LoggedOn: true, Locked: true, Transient: true}, false},
	} {
		if got := LockButtonEnabled(tc.s); got != tc.want {
			t.Errorf("%s: enabled = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLockOptions(t *testing.T) {
	clerk := Clerk{Transactions: true}
	lockOnly := Options{Lock: true}
	suspendLock := Options{Suspend: true, Lock: true}
	all := Options{Suspend: true, Resume: true, Lock: true}
	for _, tc := range []struct {
		name        string
		mode        Mode
		c           Clerk
		basketEmpty bool
		want        Options
	}{
		{"serve customer, empty basket", ModeServeCustomer, clerk, true, all},
		{"serve customer, items in the basket", ModeServeCustomer, clerk, false, suspendLock},
		{"not serve-customer mode", ModeBackOffice, clerk, true, lockOnly},
		{"not serve-customer mode, items in the basket", ModeBackOffice, clerk, false, lockOnly},
		{"no transactions permission", ModeServeCustomer, Clerk{}, true, lockOnly},
		{"no transactions permission, items in the basket", ModeServeCustomer, Clerk{}, false, lockOnly},
		{"in the default stock unit", ModeServeCustomer, Clerk{Transactions: true, DefaultStockUnit: true}, true, lockOnly},
		{"in the default stock unit, items in the basket", ModeServeCustomer, Clerk{Transactions: true, DefaultStockUnit: true}, false, lockOnly},
		{"no mode yet", "", clerk, true, lockOnly},
	} {
		if got := LockOptions(tc.mode, tc.c, tc.basketEmpty); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
