package latchkey_test

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Site.Validate loads IANA zones; do not depend on the host's zoneinfo

	"latchkey"
)

// ---- ValidName ----

func TestValidName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"plain", "Alice", true},
		{"one char", "a", true},
		{"inner and outer spaces", "  Anne Marie  ", true},
		{"SQL metacharacters are data", "Robert'); DROP TABLE principals;--", true},
		{"shell metacharacters are data", "$(rm -rf /) `x` | & ; > <", true},
		{"quotes and backslashes", `O'Brien "\n" \\`, true},
		{"path-like", "admin/users", true},
		{"unicode letters", "Zoë Ångström 王小明", true},
		{"emoji", "🔒 latch", true},
		{"exactly MaxNameLen ASCII", strings.Repeat("a", latchkey.MaxNameLen), true},
		{"exactly MaxNameLen multi-byte runes", strings.Repeat("é", latchkey.MaxNameLen), true},
		{"exactly MaxNameLen 4-byte runes", strings.Repeat("😀", latchkey.MaxNameLen), true},
		{"empty", "", false},
		{"one space", " ", false},
		{"spaces only", "     ", false},
		{"tabs and newlines only", "\t\n \r", false},
		{"MaxNameLen+1 ASCII", strings.Repeat("a", latchkey.MaxNameLen+1), false},
		{"MaxNameLen+1 multi-byte runes", strings.Repeat("é", latchkey.MaxNameLen+1), false},
		{"newline", "ali\nce", false},
		{"trailing newline", "alice\n", false},
		{"carriage return", "ali\rce", false},
		{"tab inside", "ali\tce", false},
		{"NUL", "ali\x00ce", false},
		{"DEL", "ali\x7fce", false},
		{"ESC", "\x1b[31mred", false},
		{"C1 control NEL", "ali\u0085ce", false},
		{"invalid UTF-8", "ali\xffce", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := latchkey.ValidName("login", c.in)
			if c.ok {
				wantCode(t, err, "")
				return
			}
			wantCode(t, err, latchkey.EBADREQUEST)
			if got := detail(t, err, "field"); got != "login" {
				t.Fatalf("details.field = %#v, want login", got)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := latchkey.NewID("ses")
		if !strings.HasPrefix(id, "ses_") {
			t.Fatalf("NewID = %q, want prefix ses_", id)
		}
		if err := latchkey.ValidName("id", id); err != nil {
			t.Fatalf("NewID %q is not a valid name: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
	a := latchkey.NewID("x")
	time.Sleep(2 * time.Millisecond)
	b := latchkey.NewID("x")
	if !(a[:14] < b[:14]) {
		t.Fatalf("NewID not time-ordered: %q then %q", a, b)
	}
}
