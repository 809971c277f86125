package latchkey_test

import (
	"testing"
	"time"

	"latchkey"
)

// ---- shared fixtures and helpers (used by every _test.go file of the package) ----

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// cet is a non-UTC zone, to check that times are normalised to UTC.
var cet = time.FixedZone("CET+1", 60*60)

// sess builds an ACTIVE session of principal princ; a locked one is locked
// at t0-1m.
func sess(id, terminal, identity string, locked bool) latchkey.Session {
	s := latchkey.Session{
		ID:             id,
		PrincipalID:    princ,
		Identity:       identity,
		TerminalID:     terminal,
		Status:         latchkey.SessionActive,
		StartedAt:      t0.Add(-time.Hour),
		LastActivityAt: t0.Add(-2 * time.Minute),
	}
	if locked {
		at := t0.Add(-time.Minute)
		s.LockedAt = &at
	}
	return s
}

// withStatus returns s with the given status.
func withStatus(s latchkey.Session, st latchkey.SessionStatus) latchkey.Session {
	s.Status = st
	return s
}

// ofPrincipal returns s belonging to another principal.
func ofPrincipal(s latchkey.Session, p string) latchkey.Session {
	s.PrincipalID = p
	return s
}

func ptr[T any](v T) *T { return &v }

func ccSite() latchkey.Site { return latchkey.DefaultSite("branch") }

func legacySite() latchkey.Site {
	s := latchkey.DefaultSite("old branch")
	s.ConcurrencyControls = false
	return s
}

func user(global bool) latchkey.Principal {
	return latchkey.Principal{ID: princ, Name: "Alice", Role: latchkey.RoleUser, Global: global}
}

// wantCode checks err's code ("" = no error) and that a non-nil error is an
// *latchkey.Error.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := latchkey.ErrorCode(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
	if err != nil {
		if _, ok := err.(*latchkey.Error); !ok {
			t.Fatalf("error %v is %T, want *latchkey.Error", err, err)
		}
	}
}

// detail returns details[key] of err, failing the test if it is absent.
func detail(t *testing.T, err error, key string) any {
	t.Helper()
	d := latchkey.ErrorDetails(err)
	v, ok := d[key]
	if !ok {
		t.Fatalf("details of %v have no %q: %#v", err, key, d)
	}
	return v
}

// refIDs returns the ids listed in details.sessions of err.
func refIDs(t *testing.T, err error) []string {
	t.Helper()
	v := detail(t, err, "sessions")
	rs, ok := v.([]latchkey.SessionRef)
	if !ok {
		t.Fatalf("details.sessions is %T, want []latchkey.SessionRef", v)
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

var st0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

const (
	thisTerm = "term-here"
	princ    = "p-alice"
)
