package latchkey_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"latchkey"
)

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		// URL userinfo.
		{"postgres://u:secret@h:5432/db", "postgres://u:xxxxx@h:5432/db"},
		{"postgresql://u:secret@h/db?sslmode=disable", "postgresql://u:xxxxx@h/db?sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db", "postgres://h/db"},
		{"postgres://u:p%40ss@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:p@ss@h/db", "postgres://u:xxxxx@h/db"},          // unescaped "@"
		{"postgres://u:a/b@h/db", "postgres://u:xxxxx@h/db"},           // unescaped "/"
		{"postgres://u:@h/db", "postgres://u:xxxxx@h/db"},              // empty password
		{"sqlite://data/latchkey.db", "sqlite://data/latchkey.db"},     // nothing to hide
		{"sqlite:///var/lib/lk.db", "sqlite:///var/lib/lk.db"},         // nothing to hide
		{"postgres://h:5432/db?user=u", "postgres://h:5432/db?user=u"}, // a port is not a password
		// Query parameters.
		{"postgres://h/db?password=secret", "postgres://h/db?password=xxxxx"},
		{"postgres://h/db?sslmode=require&password=secret&user=u", "postgres://h/db?sslmode=require&password=xxxxx&user=u"},
		{"postgres://h/db?sslpassword=keypw#frag", "postgres://h/db?sslpassword=xxxxx#frag"},
		{"postgres://h/db?PASSWORD=secret", "postgres://h/db?PASSWORD=xxxxx"},
		{"postgres://u:one@h/db?password=two", "postgres://u:xxxxx@h/db?password=xxxxx"},
		// key=value DSNs.
		{"host=h user=u password=secret dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"password=secret", "password=xxxxx"},
		{"host=h password = secret dbname=d", "host=h password = xxxxx dbname=d"},
		{"host=h password='se cret' dbname=d", "host=h password=xxxxx dbname=d"},
		{`host=h password='it\'s' dbname=d`, "host=h password=xxxxx dbname=d"},
		{"host=h password=a&b dbname=d", "host=h password=xxxxx dbname=d"},
		{"PGPASSWORD=secret psql", "PGPASSWORD=xxxxx psql"},
		{"host=h passwordless=1", "host=h passwordless=1"},
		{"host=h mypassword=x", "host=h mypassword=x"},
		// Inside messages.
		{`open postgres: cannot parse "postgres://u:secret@h:x/db": invalid port`, `open postgres: cannot parse "postgres://u:xxxxx@h:x/db": invalid port`},
		{"dial `host=h password=secret`: refused", "dial `host=h password=xxxxx`: refused"},
		{"a postgres://u:s1@h/a and postgres://v:s2@h/b", "a postgres://u:xxxxx@h/a and postgres://v:xxxxx@h/b"},
		{"no secrets here", "no secrets here"},
		{"", ""},
	} {
		if got := latchkey.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactError(t *testing.T) {
	if latchkey.RedactError(nil, "postgres://u:secret@h/db") != nil {
		t.Error("RedactError(nil) is not nil")
	}
	for _, tt := range []struct {
		dsn, msg string
	}{
		// A driver that echoes the password in its own words.
		{"postgres://u:s3cr%2Ft@h/db", "auth failed for u with s3cr/t"},
		{"postgres://u:s3cr%2Ft@h/db", "bad url postgres://u:s3cr%2Ft@h/db"},
		{"postgres://h/db?password=hunter22", `"hunter22" rejected`},
		{"host=h password='with space' user=u", "password with space is wrong"},
		{"host=h password=plain user=u", "connect: plain text"},
	} {
		err := latchkey.RedactError(fmt.Errorf("open: %w", errors.New(tt.msg)), tt.dsn)
		for _, secret := range []string{"s3cr", "hunter22", "with space", "plain"} {
			if strings.Contains(tt.dsn, secret) && strings.Contains(err.Error(), secret) {
				t.Errorf("RedactError(%q, %q) = %q: still holds %q", tt.msg, tt.dsn, err, secret)
			}
		}
		if !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("RedactError(%q, %q) = %q: nothing masked", tt.msg, tt.dsn, err)
		}
		if errors.Unwrap(err) != nil {
			t.Errorf("RedactError(%q) unwraps to the unredacted error", tt.msg)
		}
	}
}
