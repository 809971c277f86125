package latchkey_test

import (
	"testing"
	"time"

	"latchkey"
)

func TestTerminalState(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	ses := func(st latchkey.SessionStatus, locked, ended *time.Time) *latchkey.Session {
		return &latchkey.Session{Status: st, StartedAt: t0, LockedAt: locked, EndedAt: ended}
	}
	for _, tc := range []struct {
		name           string
		active, latest *latchkey.Session
		want           latchkey.BoardState
		since          *time.Time
	}{
		{"never used", nil, nil, latchkey.BoardFree, nil},
		{"unlocked: since it started", ses(latchkey.SessionActive, nil, nil), nil, latchkey.BoardUnlocked, &t0},
		{"locked: since it was locked", ses(latchkey.SessionActive, &t1, nil), nil, latchkey.BoardLocked, &t1},
		{"the active one wins over an older latest", ses(latchkey.SessionActive, &t1, nil), ses(latchkey.SessionFailed, nil, &t2), latchkey.BoardLocked, &t1},
		{"latest is the active one (unlocked)", nil, ses(latchkey.SessionActive, nil, nil), latchkey.BoardUnlocked, &t0},
		{"latest is the active one (locked)", nil, ses(latchkey.SessionActive, &t1, nil), latchkey.BoardLocked, &t1},
		{"latest failed: since it failed", nil, ses(latchkey.SessionFailed, nil, &t2), latchkey.BoardFailed, &t2},
		{"latest failed while locked", nil, ses(latchkey.SessionFailed, &t1, &t2), latchkey.BoardFailed, &t2},
		{"latest ended: free since", nil, ses(latchkey.SessionEnded, nil, &t2), latchkey.BoardFree, &t2},
		{"latest expired: free", nil, ses(latchkey.SessionExpired, &t1, &t2), latchkey.BoardFree, &t2},
		{"an active pointer not active is not active", ses(latchkey.SessionEnded, nil, &t2), nil, latchkey.BoardFree, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, since := latchkey.TerminalState(tc.active, tc.latest)
			if got != tc.want {
				t.Fatalf("state %q, want %q", got, tc.want)
			}
			if (since == nil) != (tc.since == nil) || since != nil && !since.Equal(*tc.since) {
				t.Fatalf("since %v, want %v", since, tc.since)
			}
		})
	}
}

func TestBoardFilterValidate(t *testing.T) {
	long := make([]rune, latchkey.MaxBoardText+1)
	for i := range long {
		long[i] = 'x'
	}
	for _, tc := range []struct {
		name  string
		f     latchkey.BoardFilter
		field string // "" when valid
		text  string // the text after Validate
	}{
		{"empty", latchkey.BoardFilter{}, "", ""},
		{"every state", latchkey.BoardFilter{State: "standalone"}, "", ""},
		{"unknown state", latchkey.BoardFilter{State: "busy"}, "state", ""},
		{"text trimmed", latchkey.BoardFilter{Text: "  counter 1 "}, "", "counter 1"},
		{"text too long", latchkey.BoardFilter{Text: string(long)}, "q", ""},
		{"control character", latchkey.BoardFilter{Text: "a\x00b"}, "q", ""},
		{"SQL metacharacters are text", latchkey.BoardFilter{Text: "o'brien;--%_"}, "", "o'brien;--%_"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			err := f.Validate()
			if tc.field == "" {
				if err != nil || f.Text != tc.text {
					t.Fatalf("%v, text %q; want valid, %q", err, f.Text, tc.text)
				}
				return
			}
			if latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
				t.Fatalf("%v, want bad_request on %s", err, tc.field)
			}
		})
	}
	for in, want := range map[string]string{"Counter": "%counter%", "50%_off": `%50\%\_off%`, `a\b`: `%a\\b%`, "": "%%"} {
		if got := latchkey.LikePattern(in); got != want {
			t.Errorf("LikePattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanViewSessionBoardAndPerson(t *testing.T) {
	for _, tc := range []struct {
		name         string
		c            latchkey.Caller
		board, own   bool
		otherPerson  bool
		ownPersonsID string
	}{
		{"admin", adminC, true, true, true, "prn_admin"},
		{"delegate", delegateC, true, true, true, "prn_deleg"},
		{"user", userC, false, true, false, "prn_user"},
		{"terminal", terminalC, false, false, false, ""},
		{"nobody", latchkey.Caller{}, false, false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error, want bool) {
				t.Helper()
				if (err == nil) != want {
					t.Fatalf("%s: allowed %v (%v), want %v", what, err == nil, err, want)
				}
				if err != nil && latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
					t.Fatalf("%s: %v, want forbidden", what, err)
				}
			}
			check("the board", latchkey.CanViewSessionBoard(tc.c), tc.board)
			check("their own page", latchkey.CanViewPerson(tc.c, tc.ownPersonsID), tc.own)
			check("another person's page", latchkey.CanViewPerson(tc.c, "prn_someone_else"), tc.otherPerson)
		})
	}
}

func TestEventMeaning(t *testing.T) {
	for n, want := range map[int]string{24: "Position locked", 25: "Position unlocked", 26: "Unlock failed", 7: "Unknown event"} {
		if got := latchkey.EventMeaning(n); got != want {
			t.Errorf("EventMeaning(%d) = %q, want %q", n, got, want)
		}
	}
	if got := latchkey.ReasonMeaning(latchkey.ReasonAttemptsExceeded); got != "too many attempts" {
		t.Errorf("ReasonMeaning: %q", got)
	}
}
