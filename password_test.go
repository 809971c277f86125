package latchkey_test

import (
	"strings"
	"testing"

	"latchkey"
)

func TestCheckNewPassword(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, pw, reason string // reason "" = accepted
	}{
		{"empty", "", "required"},
		{"one short of the minimum", "abcdef7", "too_short"},
		{"old fixture style", "pw-bob", "too_short"},
		{"seven runes in more than eight bytes", "ééééééé", "too_short"},
		{"exactly the minimum", "xk3-pq9z", ""},
		{"eight runes, multi-byte", "ñandú-äö", ""},
		{"passphrase", "correct horse battery staple", ""},
		{"common", "password", "too_common"},
		{"common, upper case", "PASSWORD1", "too_common"},
		{"common, mixed case", "Iloveyou", "too_common"},
		{"common digits", "12345678", "too_common"},
		{"common keyboard walk", "qwertyuiop", "too_common"},
		{"common with surrounding space is not the same password", " password ", ""},
		{"common word inside a longer one", "password-for-alice", ""},
		{"at the byte limit", strings.Repeat("z", latchkey.MaxPasswordLen), ""},
		{"over the byte limit", strings.Repeat("z", latchkey.MaxPasswordLen+1), "too_long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := latchkey.CheckNewPassword("new_password", c.pw)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if latchkey.ErrorCode(err) != latchkey.EBADREQUEST {
				t.Fatalf("got %v, want bad_request", err)
			}
			d := latchkey.ErrorDetails(err)
			if d["field"] != "new_password" || d["reason"] != c.reason {
				t.Fatalf("details %v, want field new_password reason %s", d, c.reason)
			}
			// The message is fixed text: no quoted password, no digits of one.
			msg := latchkey.ErrorMessage(err)
			if c.pw != "" && (strings.Contains(msg, `"`) || strings.Contains(msg, "1234") || strings.Contains(msg, "pw-")) {
				t.Fatalf("message %q repeats the password", msg)
			}
		})
	}
}

// TestCommonPasswordList checks the bundled list: loaded, big enough, and
// every entry refused whatever its case.
func TestCommonPasswordList(t *testing.T) {
	t.Parallel()
	for _, w := range []string{"password", "12345678", "iloveyou", "sunshine", "princess", "football", "qwerty123", "letmein1", "trustno1", "welcome1", "admin123", "changeme"} {
		if !latchkey.IsCommonPassword(w) || !latchkey.IsCommonPassword(strings.ToUpper(w)) {
			t.Errorf("%q is not on the list", w)
		}
	}
	if latchkey.IsCommonPassword("") || latchkey.IsCommonPassword("# the most common") {
		t.Errorf("blank lines or comments count as passwords")
	}
	if latchkey.IsCommonPassword("vX9-tq!rT2mw") {
		t.Errorf("a random password is on the list")
	}
}
