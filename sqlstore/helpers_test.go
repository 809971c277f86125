package sqlstore_test

import (
	"strconv"

	"latchkey"
)

// pw is the password of identity login in the store's tests: "pw-<login>",
// lengthened with "-pw" until latchkey.CheckNewPassword takes it (the same
// convention as apitest's pw).
func pw(login string) string {
	s := "pw-" + login
	for len(s) < latchkey.MinPasswordLen {
		s += "-pw"
	}
	return s
}

func strconvFormat(n int64) string { return strconv.FormatInt(n, 10) }
