package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"latchkey/agent"
	"latchkey/counter"
)

var pamSynopsis = []string{"pam --socket PATH"}

// runPAM is the PC's own logon through PAM: pam_exec runs it for each PAM
// call (auth with expose_authtok, account, open_session, close_session),
// with PAM_TYPE and PAM_USER in its environment and, for auth, the
// password on its standard input. It talks to the agent's socket, so
// every rule of a log-on holds (concurrent sessions, quotas,
// reservations, standalone); what each call does is counter.PAMRule. A
// refusal is printed on standard output in the counter's words (pam_exec
// with `stdout` shows it to the person) and exits 1, which PAM takes as a
// failure.
func runPAM(e *env, args []string) int {
	c := e.newCmd("pam", pamSynopsis[0][len("pam "):], false)
	socket := c.fs.String("socket", "", "the agent's gateway socket (pam_exec passes no environment of its own, so give it here)")
	if _, st, ok := c.parse(args); !ok {
		return st
	}
	if st := c.required("socket"); st != 0 {
		return st
	}
	pamType, user := os.Getenv("PAM_TYPE"), os.Getenv("PAM_USER")
	if pamType == "" {
		return c.usageError("PAM_TYPE is not set: run it from pam_exec")
	}
	var password string
	if pamType == "auth" {
		password = pamPassword(e.stdin)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	words, ok := pamCall(ctx, agent.NewGatewayClient(*socket), pamType, user, password, time.Now(), time.Local)
	if words != "" {
		fmt.Fprintln(e.stdout, words)
	}
	if !ok {
		return 1
	}
	return 0
}

// pamPassword is the password pam_exec writes with expose_authtok: at
// most PAM_MAX_RESP_SIZE bytes, ended by a NUL byte (newer Linux-PAM) or
// by nothing.
func pamPassword(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4096))
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimRight(string(b), "\r\n")
}

// pamCall does what counter.PAMRule says for this call and returns the
// words for the person (empty when there is nothing to say) and whether
// PAM should go on.
func pamCall(ctx context.Context, gw *agent.GatewayClient, pamType, user, password string, now time.Time, loc *time.Location) (string, bool) {
	st, err := gw.Status(ctx)
	if err != nil {
		return "The latchkey agent on this terminal does not answer: nobody can log on until it runs again.", false
	}
	step := counter.PAMRule(pamType, user, *st)
	refused := func(a counter.Action, err error) (string, bool) {
		if ref := counter.RefusalOf(err); ref != nil {
			return counter.PAMWords(a, *ref, now, loc), false
		}
		return "The latchkey agent on this terminal does not answer: try again.", false
	}
	switch step {
	case counter.PAMLogOn:
		st, err := gw.Login(ctx, agent.LoginRequest{Identity: user, Password: password})
		if err != nil {
			return refused(counter.ActLogOn, err)
		}
		return pamNotices(st, loc), true
	case counter.PAMRelockUnlock:
		if _, err := gw.Lock(ctx, agent.LockRequest{Reason: agent.LockManual, Choice: agent.ChoiceLockAnyway}); err != nil {
			return refused(counter.ActLock, err)
		}
		fallthrough
	case counter.PAMUnlock:
		if _, err := gw.Unlock(ctx, agent.UnlockRequest{Identity: user, Password: password}); err != nil {
			return refused(counter.ActUnlock, err)
		}
		return "", true
	case counter.PAMLogOff:
		if _, err := gw.Logout(ctx); err != nil {
			return refused(counter.ActLogOn, err)
		}
		return "", true
	case counter.PAMRefuseOther, counter.PAMRefuseMissing:
		return counter.PAMRefusedWords(step, *st), false
	}
	return "", true
}

// pamNotices are the log-on's notices (EUM-CE-CL-20), one line each.
func pamNotices(st *agent.Status, loc *time.Location) string {
	var lines []string
	for _, n := range st.Notices {
		m := counter.NoticeWords(n, nil, loc)
		lines = append(lines, m.Title+": "+m.Text)
	}
	return strings.Join(lines, "\n")
}
