package apitest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// BenchmarkPAMAuth: what a PC's logon through PAM costs (issue 14), as
// pam_exec runs it: the built `latchkey pam --socket S` binary, one
// process per PAM step, against a real agent and a real server (the test
// argon2id profile), on both stores, and on SQLite with the production
// profile (sqlite-argon2-production). Each iteration is a log-on and a
// log-off:
//   - auth (PAM_TYPE=auth, PAM_USER=alice, the password on standard
//     input ended by a NUL, as expose_authtok writes it): the agent's
//     status, then a log-on through the gateway and the server;
//   - account and open_session: the agent's status only;
//   - close_session: the status, then a log-off.
//
// and, to tell the process start from the rest, `latchkey pam` with no
// PAM_TYPE, which refuses before it opens the socket. Reported: ns per
// log-on and log-off (all five processes), and each step's p50 and p99
// in ms (exec: the process start alone). Run:
//
//	LATCHKEY_TEST_POSTGRES=... go test ./apitest -run '^$' -bench PAMAuth -benchtime 100x
func BenchmarkPAMAuth(b *testing.B) {
	forEachGatewayBackend(b, true, func(b *testing.B, g *gatewayAgent) {
		ctx := context.Background()
		if _, err := g.gw.Logout(ctx); err != nil { // the PAM steps log alice on
			b.Fatal(err)
		}
		bin := latchkeyBinary(b)
		b.Run("logon+logoff", func(b *testing.B) {
			steps := []struct {
				name, pamType, stdin string
				exit                 int // 0: PAM goes on; 2: a usage error
			}{
				{"exec", "", "", 2},
				{"auth", "auth", pw("alice") + "\x00", 0},
				{"account", "account", "", 0},
				{"open_session", "open_session", "", 0},
				{"close_session", "close_session", "", 0},
			}
			times := make([][]time.Duration, len(steps))
			for i := range times {
				times[i] = make([]time.Duration, 0, b.N)
			}
			for b.Loop() {
				for i, s := range steps {
					d, out, exit, err := runPAMStep(bin, g.socket, s.pamType, "alice", s.stdin)
					times[i] = append(times[i], d)
					if err != nil || exit != s.exit {
						b.Fatalf("latchkey pam %s: exit %d, want %d (%v)\n%s", s.name, exit, s.exit, err, out)
					}
				}
			}
			for i, s := range steps {
				reportQuantiles(b, s.name, times[i])
			}
		})
		if st, err := g.gw.Status(ctx); err != nil || st.Session != nil {
			b.Fatalf("after the PAM log-offs: %+v, %v", st, err)
		}
	})
}

// runPAMStep runs `latchkey pam --socket socket` as pam_exec would for
// the step pamType ("": none, a usage error) of user, with stdin on its
// standard input, and returns how long the process took, what it
// printed and its exit status (err: it did not run or was killed).
func runPAMStep(bin, socket, pamType, user, stdin string) (time.Duration, string, int, error) {
	cmd := exec.Command(bin, "pam", "--socket", socket)
	cmd.Env = append(os.Environ(), "PAM_USER="+user)
	if pamType != "" {
		cmd.Env = append(cmd.Env, "PAM_TYPE="+pamType)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return d, out.String(), ee.ExitCode(), nil
	}
	return d, out.String(), 0, err
}
