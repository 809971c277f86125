package latchkey_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"latchkey"
)

// ---- small helpers of latchkey.go ----

func TestValidPrincipalRole(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    latchkey.Role
		want bool
	}{
		{latchkey.RoleAdmin, true}, {latchkey.RoleDelegate, true}, {latchkey.RoleUser, true},
		{latchkey.RoleTerminal, false}, {"", false}, {"root", false}, {"Admin", false},
	} {
		if got := latchkey.ValidPrincipalRole(c.r); got != c.want {
			t.Errorf("ValidPrincipalRole(%q) = %v, want %v", c.r, got, c.want)
		}
	}
}

func TestSearchPrefix(t *testing.T) {
	top := string(utf8.MaxRune)
	for _, tc := range []struct {
		q      string
		want   latchkey.SearchBounds
		badReq bool
	}{
		{q: "Ann", want: latchkey.SearchBounds{NameLo: "ann", NameHi: "ann" + top, LoginLo: "Ann", LoginHi: "Ann" + top}},
		{q: "  bo ", want: latchkey.SearchBounds{NameLo: "bo", NameHi: "bo" + top, LoginLo: "bo", LoginHi: "bo" + top}},
		{q: "ÖLAF", want: latchkey.SearchBounds{NameLo: "Ölaf", NameHi: "Ölaf" + top, LoginLo: "ÖLAF", LoginHi: "ÖLAF" + top}},
		{q: "", badReq: true},
		{q: "   ", badReq: true},
		{q: "a\x00b", badReq: true},
		{q: strings.Repeat("x", latchkey.MaxNameLen+1), badReq: true},
	} {
		got, err := latchkey.SearchPrefix(tc.q)
		if tc.badReq {
			if latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
				t.Errorf("SearchPrefix(%q): %v, want bad_request", tc.q, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("SearchPrefix(%q) = %+v, %v; want %+v", tc.q, got, err, tc.want)
		}
	}
	// Every name that starts with the prefix sorts inside the bounds, in
	// byte order; the next prefix does not.
	b, _ := latchkey.SearchPrefix("ann")
	for _, name := range []string{"ann", "anna", "ann z", "ann\U0010fffe", "ann😀"} {
		if !(b.NameLo <= name && name < b.NameHi) {
			t.Errorf("%q is outside %+v", name, b)
		}
	}
	for _, name := range []string{"anm", "ano", "an"} {
		if b.NameLo <= name && name < b.NameHi {
			t.Errorf("%q is inside %+v", name, b)
		}
	}
}
