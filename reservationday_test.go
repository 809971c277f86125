package latchkey_test

import (
	"testing"
	"time"

	"latchkey"
)

// Who a caller sees holding a reservation: their own as "you", others'
// by name only for staff.
func TestShowHolder(t *testing.T) {
	mine := latchkey.Reservation{ID: "rs_1", Principal: "prn_user"}
	theirs := latchkey.Reservation{ID: "rs_2", Principal: "prn_x"}
	for _, tc := range []struct {
		name string
		c    latchkey.Caller
		r    latchkey.Reservation
		want latchkey.HolderShown
	}{
		{"user own", userC, mine, latchkey.ShownYou},
		{"user other's", userC, theirs, latchkey.ShownReserved},
		{"delegate other's", delegateC, theirs, latchkey.ShownName},
		{"admin other's", adminC, theirs, latchkey.ShownName},
		{"admin own", adminC, latchkey.Reservation{Principal: "prn_admin"}, latchkey.ShownYou},
		{"terminal", terminalC, theirs, latchkey.ShownReserved},
		{"nobody with an empty holder", latchkey.Caller{}, latchkey.Reservation{}, latchkey.ShownReserved},
	} {
		if got := latchkey.ShowHolder(tc.c, tc.r); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
		// What is shown as "you" is what its person may cancel.
		if latchkey.ShowHolder(tc.c, tc.r) == latchkey.ShownYou && latchkey.CanCancelReservation(tc.c, tc.r) != nil {
			t.Errorf("%s: shown as yours but not cancellable", tc.name)
		}
	}
}

// A site's day runs from its midnight to the next, 23 or 25 hours on the
// days the clocks change.
func TestLocalDay(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	auckland, _ := time.LoadLocation("Pacific/Auckland")
	for _, tc := range []struct {
		day       string
		loc       *time.Location
		startUTC  string
		hours     float64
		wantError bool
	}{
		{"2026-12-04", time.UTC, "2026-12-04T00:00:00Z", 24, false},
		{"2026-12-04", paris, "2026-12-03T23:00:00Z", 24, false},
		{"2026-03-29", paris, "2026-03-28T23:00:00Z", 23, false},
		{"2026-10-25", paris, "2026-10-24T22:00:00Z", 25, false},
		{"2026-12-04", auckland, "2026-12-03T11:00:00Z", 24, false},
		{"2026-12-4", time.UTC, "", 0, true},
		{"", time.UTC, "", 0, true},
		{"2026-02-30", time.UTC, "", 0, true},
	} {
		start, end, err := latchkey.LocalDay(tc.day, tc.loc)
		if tc.wantError {
			if latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
				t.Errorf("%q: %v, want bad_request", tc.day, err)
			}
			continue
		}
		if err != nil || start.UTC().Format(time.RFC3339) != tc.startUTC || end.Sub(start).Hours() != tc.hours {
			t.Errorf("%q in %s: %s to %s (%v), want from %s for %v h", tc.day, tc.loc, start.UTC(), end.UTC(), err, tc.startUTC, tc.hours)
		}
	}
}
