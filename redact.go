package latchkey

import (
	"net/url"
	"regexp"
	"strings"
)

// redactMask replaces every password Redact finds.
const redactMask = "xxxxx"

// Redact returns s, a store URL, a DSN or any text that may hold one (an
// error message, a log line), with every password replaced by "xxxxx":
//
//   - the userinfo password of a URL: postgres://u:secret@h/db;
//   - a password query parameter: ?password=secret, &sslpassword=secret;
//   - a key=value DSN's password=secret or password='se cret' (spaces
//     around "=" allowed, as libpq does).
//
// It is best effort on malformed input, and masks too much rather than
// too little there. RedactError also removes the literal password of a
// known DSN, wherever a message repeats it.
func Redact(s string) string {
	if !strings.Contains(s, "://") && !containsPasswordWord(s) {
		return s // the common case, without a copy
	}
	return scanSecrets(s, func(string) string { return redactMask })
}

// containsPasswordWord reports whether s holds "password" in any case.
func containsPasswordWord(s string) bool {
	const w = "password"
	for i := 0; i+len(w) <= len(s); i++ {
		if (s[i] == 'p' || s[i] == 'P') && strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// RedactError returns err with its message passed through Redact and with
// every password that dsn holds (as written, and percent-decoded) removed
// wherever the message repeats it, so a driver's error that echoes the
// DSN cannot leak it. The result does not unwrap to err: err's own
// message may hold the password. nil stays nil.
func RedactError(err error, dsn string) error {
	if err == nil {
		return nil
	}
	msg := Redact(err.Error())
	for _, p := range dsnSecrets(dsn) {
		msg = strings.ReplaceAll(msg, p, redactMask)
	}
	return redactedError(msg)
}

type redactedError string

func (e redactedError) Error() string { return string(e) }

// dsnSecrets returns the passwords in dsn, as written and decoded, longest
// first (so a password that contains another is replaced whole).
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(p string) {
		if p == "" || p == redactMask {
			return
		}
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	scanSecrets(dsn, func(p string) string {
		add(p)
		if d, err := url.PathUnescape(p); err == nil {
			add(d)
		}
		if d, err := url.QueryUnescape(p); err == nil {
			add(d)
		}
		if len(p) >= 2 && p[0] == '\'' && p[len(p)-1] == '\'' {
			add(strings.ReplaceAll(strings.ReplaceAll(p[1:len(p)-1], `\'`, `'`), `\\`, `\`))
		}
		return p
	})
	// Longest first.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// passwordKey finds a password key and its "=": at the start, or after a
// space, a quote, "?", "&" or ";".
var passwordKey = regexp.MustCompile("(?i)(^|[\\s?&;,(\"'`])((?:ssl|pg)?password)\\s*=\\s*")

// scanSecrets returns s with every password span (found as Redact says)
// replaced by repl(span).
func scanSecrets(s string, repl func(string) string) string {
	s = scanURLUserinfo(s, repl)
	var b strings.Builder
	for {
		m := passwordKey.FindStringSubmatchIndex(s)
		if m == nil {
			b.WriteString(s)
			return b.String()
		}
		start := m[1]
		end := valueEnd(s, start, m[2] < m[3] && (s[m[2]] == '?' || s[m[2]] == '&'))
		b.WriteString(s[:start])
		b.WriteString(repl(s[start:end]))
		s = s[end:]
	}
}

// valueEnd returns where the value starting at s[i] ends: a quoted value
// at its closing quote (backslash escapes), a URL query value at "&", "#"
// or a space, a key=value DSN's value at a space.
func valueEnd(s string, i int, query bool) int {
	if i < len(s) && s[i] == '\'' && !query {
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '\'':
				return j + 1
			}
		}
		return len(s)
	}
	j := i
	for j < len(s) {
		c := s[j]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '`' {
			break
		}
		if query && (c == '&' || c == '#') {
			break
		}
		j++
	}
	return j
}

// userinfoQuery returns where the query of u (a URL without its scheme)
// starts, for finding the userinfo's end: at the first "?" whose text up
// to the next "@" has no "=" or "&" (so it is a password's unescaped "?",
// not a query), the next "?" is tried.
func userinfoQuery(u string) int {
	from := 0
	for {
		q := strings.IndexByte(u[from:], '?')
		if q < 0 {
			return len(u)
		}
		q += from
		at := strings.IndexByte(u[q:], '@')
		if at < 0 || strings.ContainsAny(u[q:q+at], "=&") {
			return q
		}
		from = q + at
	}
}

// scanURLUserinfo replaces the password of every "scheme://user:pass@"
// in s. The URL runs to the next space or quote; its userinfo ends at the
// last "@" before the query, so a password with an unescaped "@", "/" or
// "?" is still masked whole.
func scanURLUserinfo(s string, repl func(string) string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		rest := s[i+3:]
		urlEnd := strings.IndexAny(rest, " \t\r\n\"'`<>")
		if urlEnd < 0 {
			urlEnd = len(rest)
		}
		u := rest[:urlEnd]
		q := userinfoQuery(u)
		at := strings.LastIndexByte(u[:q], '@')
		colon := -1
		if at >= 0 {
			colon = strings.IndexByte(u[:at], ':')
		}
		b.WriteString(s[:i+3])
		if colon < 0 {
			b.WriteString(u)
		} else {
			b.WriteString(u[:colon+1])
			b.WriteString(repl(u[colon+1 : at]))
			b.WriteString(u[at:])
		}
		s = rest[urlEnd:]
	}
}
