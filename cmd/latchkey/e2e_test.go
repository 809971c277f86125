package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd runs the real Run: a server on port 0 with a temporary data
// dir (embedded SQLite), and the README's walkthrough against it through
// the CLI, then a graceful stop.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LATCHKEY_ADMIN_PASSWORD", "e2e-admin-pw")
	t.Setenv("LATCHKEY_TOKEN_FILE", filepath.Join(dir, "token"))
	t.Setenv("LATCHKEY_TOKEN", "")
	t.Setenv("LATCHKEY_TERMINAL_TOKEN", "")
	t.Setenv("LATCHKEY_SERVER", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
			"--argon2-time", "1", "--argon2-memory", "64", "--sweep-interval", "50ms"}, strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	addr, serverKey := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
			if k, ok := strings.CutPrefix(sc.Text(), "server key: "); ok {
				serverKey <- strings.Fields(k)[0]
			}
		}
	}()
	var server string
	select {
	case server = <-addr:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	t.Setenv("LATCHKEY_SERVER", server)

	cli := cliRunner(t, ctx)
	sessionID := func(out string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^session (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no session id in %q", out)
		}
		return m[1]
	}

	t.Setenv("LATCHKEY_PASSWORD", "e2e-admin-pw")
	cli(0, "auth", "login", "--identity", "admin")
	site := fieldOf(t, cli(0, "site", "create", "--name", "High Street"), "id")
	a := cli(0, "terminal", "register", "--name", "counter A", "--site", site)
	b := cli(0, "terminal", "register", "--name", "counter B", "--site", site)
	ta, toka := fieldOf(t, a, "id"), fieldOf(t, a, "token")
	tb, tokb := fieldOf(t, b, "id"), fieldOf(t, b, "token")
	if k := <-serverKey; fieldOf(t, a, "server key") != k || !strings.Contains(a, "--server-key "+k) {
		t.Fatalf("terminal register shows the server key %q as serve printed it? %s", k, a)
	}
	ann := fieldOf(t, cli(0, "principal", "create", "--name", "Ann", "--role", "user"), "id")
	t.Setenv("LATCHKEY_PASSWORD", "ann-secret")
	cli(0, "identity", "add", "--principal", ann, "--login", "ann")

	s1 := sessionID(cli(0, "session", "login", "--terminal", ta, "--identity", "ann", "--terminal-token", toka))
	if out := cli(1, "session", "login", "--terminal", tb, "--identity", "ann", "--terminal-token", tokb); !strings.Contains(out, "concurrent_session") || !strings.Contains(out, s1) {
		t.Fatalf("second login: %s", out)
	}
	cli(0, "session", "lock", s1, "--terminal-token", toka)
	s2 := sessionID(cli(0, "session", "login", "--terminal", tb, "--identity", "ann", "--terminal-token", tokb))
	cli(1, "session", "unlock", s1, "--identity", "ann", "--terminal-token", toka)
	cli(0, "session", "unlock", s1, "--identity", "ann", "--force", "--terminal-token", toka)
	if out := cli(1, "session", "touch", s2, "--terminal-token", tokb); !strings.Contains(out, "session_failed") {
		t.Fatalf("touch on the forced-off session: %s", out)
	}
	if out := cli(0, "--json", "session", "show", s1, "--terminal-token", toka); !strings.Contains(out, `"locked_at": null`) {
		t.Fatalf("session after forced unlock: %s", out)
	}
	if out := cli(0, "audit", "list", "--action", "session.failed"); !strings.Contains(out, s2) {
		t.Fatalf("audit lacks the failed session: %s", out)
	}
	if out := cli(0, "audit", "verify"); !strings.Contains(out, "ok") {
		t.Fatalf("audit verify: %s", out)
	}

	// Group sets.
	gs := fieldOf(t, cli(0, "groupset", "create", "--name", "admin tools", "--group", "wheel", "--group", "docker", "--max-minutes", "30", "--eligible", ann), "id")
	if out := cli(0, "groupset", "show", gs); !strings.Contains(out, "wheel docker") || fieldOf(t, out, "max minutes") != "30" {
		t.Fatalf("groupset show: %s", out)
	}
	if out := cli(1, "groupset", "create", "--name", "bad", "--group", "Wheel"); !strings.Contains(out, "bad_request") {
		t.Fatalf("groupset create with a bad group: %s", out)
	}
	if out := cli(0, "groupset", "show", gs); fieldOf(t, out, "sites") != "all" {
		t.Fatalf("a set for every site: %s", out)
	}
	elsewhere := fieldOf(t, cli(0, "site", "create", "--name", "Elsewhere"), "id")
	far := fieldOf(t, cli(0, "groupset", "create", "--name", "far tools", "--group", "backup", "--site", elsewhere), "id")
	if out := cli(0, "groupset", "show", far); fieldOf(t, out, "sites") != elsewhere {
		t.Fatalf("groupset show of a set limited to a site: %s", out)
	}
	if out := cli(1, "checkout", "request", "--groupset", far, "--terminal", ta, "--principal", ann); !strings.Contains(out, "forbidden") {
		t.Fatalf("a check-out outside the set's sites: %s", out)
	}

	// A reservation of counter B for Ann, listed and cancelled.
	res := fieldOf(t, cli(0, "reservation", "create", "--terminal", tb, "--principal", ann, "--start", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--minutes", "30"), "reservation")
	if out := cli(0, "reservation", "list", "--terminal", tb); !strings.Contains(out, res) {
		t.Fatalf("reservation list: %s", out)
	}
	if out := cli(1, "reservation", "create", "--terminal", tb, "--start", time.Now().Add(70*time.Minute).UTC().Format(time.RFC3339), "--minutes", "30"); !strings.Contains(out, "conflict") {
		t.Fatalf("an overlapping reservation: %s", out)
	}
	cli(0, "reservation", "delete", res)

	// A check-out on counter A, where Ann is logged on, by the admin for
	// her: checking_out until an agent confirms; check-in is immediate.
	co := fieldOf(t, cli(0, "checkout", "request", "--groupset", gs, "--terminal", ta, "--principal", ann, "--minutes", "10"), "checkout")
	if out := cli(0, "checkout", "show", co); fieldOf(t, out, "status") != "checking_out" || fieldOf(t, out, "login") != "ann" {
		t.Fatalf("checkout show: %s", out)
	}
	if out := cli(0, "checkout", "checkin", co); fieldOf(t, out, "status") != "checked_in" {
		t.Fatalf("checkout checkin: %s", out)
	}

	// The node registry: this server is one live node.
	if out := cli(0, "cluster", "nodes"); !regexp.MustCompile(`(?m)^node_\S+\s+127\.0\.0\.1:\d+\s.*\strue$`).MatchString(out) {
		t.Fatalf("cluster nodes: %s", out)
	}

	// Background jobs: the sweeps are jobs, one of each.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out := cli(0, "job", "list", "--kind", "sweep.sessions")
		if m := regexp.MustCompile(`(?m)^(job_\S+)\s+sweep\.sessions\s`).FindStringSubmatch(out); m != nil {
			if show := cli(0, "job", "show", m[1]); fieldOf(t, show, "key") != "sweep.sessions" {
				t.Fatalf("job show: %s", show)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job list has no session sweep: %s", out)
		}
	}
	if out := cli(1, "job", "list", "--state", "bogus"); !strings.Contains(out, "bad_request") {
		t.Fatalf("job list with a bad state: %s", out)
	}

	// Tasks: a report of today and a seal, run by the node's runner.
	today := time.Now().UTC().Format("2006-01-02")
	for _, args := range [][]string{{"--kind", "report", "--from", today, "--to", today}, {"--kind", "audit_seal"}, {"--kind", "reconcile", "--batch", "10", "--wait", "2s"}} {
		id := fieldOf(t, cli(0, append([]string{"task", "create"}, args...)...), "task")
		for deadline := time.Now().Add(20 * time.Second); fieldOf(t, cli(0, "task", "show", id), "status") != "done"; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("task %s did not run: %s", id, cli(0, "task", "show", id))
			}
		}
		if args[1] == "report" {
			png := filepath.Join(dir, "chart.png")
			cli(0, "task", "chart", id, "--out", png)
			if b, err := os.ReadFile(png); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
				t.Fatalf("task chart: %v", err)
			}
		}
		out := cli(0, "task", "result", id)
		if want := map[string]string{"report": "site,site_name,principal,name,sessions,minutes,checkouts", "audit_seal": `"signature"`, "reconcile": `"terminals"`}[args[1]]; !strings.Contains(out, want) {
			t.Fatalf("task result of %s: %s", args[1], out)
		}
	}
	if out := cli(1, "task", "create", "--kind", "report", "--from", "2026-13-01", "--to", today); !strings.Contains(out, "params.from") {
		t.Fatalf("a report with a bad date: %s", out)
	}
	if out := cli(1, "task", "create", "--kind", "reconcile", "--wait", "soon"); !strings.Contains(out, "params.wait") {
		t.Fatalf("a reconcile with a bad wait: %s", out)
	}

	// Access requests: a set needing approval is requested, not checked
	// out; Ann asks, the admin approves from the inbox, a node's runner
	// provisions counter A, and Ann's cancel checks it in again.
	appr := fieldOf(t, cli(0, "groupset", "create", "--name", "root tools", "--group", "adm", "--eligible", ann, "--approval"), "id")
	if out := cli(0, "groupset", "show", appr); !strings.Contains(out, "any admin or delegate") {
		t.Fatalf("groupset show of a set needing approval: %s", out)
	}
	if out := cli(1, "checkout", "request", "--groupset", appr, "--terminal", ta, "--principal", ann); !strings.Contains(out, "approval_required") {
		t.Fatalf("a check-out of a set needing approval: %s", out)
	}
	t.Setenv("LATCHKEY_TOKEN_FILE", filepath.Join(dir, "ann-token"))
	t.Setenv("LATCHKEY_PASSWORD", "ann-secret")
	cli(0, "auth", "login", "--identity", "ann")
	annTok, err := os.ReadFile(filepath.Join(dir, "ann-token"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LATCHKEY_TOKEN_FILE", filepath.Join(dir, "token"))
	asAnn := "--token=" + strings.TrimSpace(string(annTok))
	out := cli(0, "request", "create", "--groupset", appr, "--terminal", ta, "--minutes", "5", "--reason", "patching", asAnn)
	req := fieldOf(t, out, "request")
	if fieldOf(t, out, "status") != "waiting_approval" {
		t.Fatalf("request create: %s", out)
	}
	m := regexp.MustCompile(`(?m)^(\S+)\s+approval\s+` + req).FindStringSubmatch(cli(0, "workitem", "list"))
	if m == nil {
		t.Fatalf("the admin's inbox lacks request %s", req)
	}
	if out := cli(1, "workitem", "approve", m[1], asAnn); !strings.Contains(out, "forbidden") {
		t.Fatalf("Ann approves her own request: %s", out)
	}
	if out := cli(0, "workitem", "approve", m[1], "--comment", "go ahead"); fieldOf(t, out, "decision") != "approve" {
		t.Fatalf("workitem approve: %s", out)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out = cli(0, "request", "show", req, asAnn)
		if fieldOf(t, out, "check-outs") != "-" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the approved request was not provisioned: %s", out)
		}
	}
	if fieldOf(t, out, "status") != "provisioning" || !regexp.MustCompile(`provision:`+ta+`\s+running`).MatchString(out) {
		t.Fatalf("request show while counter A's agent has not answered: %s", out)
	}
	provisioned := fieldOf(t, out, "check-outs")
	if out := cli(0, "request", "cancel", req, asAnn); fieldOf(t, out, "status") != "cancelled" {
		t.Fatalf("request cancel: %s", out)
	}
	if out := cli(0, "checkout", "show", provisioned); fieldOf(t, out, "status") != "checked_in" {
		t.Fatalf("the cancelled request's check-out: %s", out)
	}

	// Edit locks: a delegate waits in the queue with --wait and is granted
	// the lock the moment the admin releases it.
	dee := fieldOf(t, cli(0, "principal", "create", "--name", "Dee", "--role", "delegate"), "id")
	t.Setenv("LATCHKEY_PASSWORD", "dee-secret")
	cli(0, "identity", "add", "--principal", dee, "--login", "dee")
	t.Setenv("LATCHKEY_TOKEN_FILE", filepath.Join(dir, "dee-token"))
	cli(0, "auth", "login", "--identity", "dee")
	deeTok, err := os.ReadFile(filepath.Join(dir, "dee-token"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LATCHKEY_TOKEN_FILE", filepath.Join(dir, "token"))
	asDee := "--token=" + strings.TrimSpace(string(deeTok))

	g := cli(0, "lock", "acquire", "admin/users", "--note", "adding staff", "--ttl", "5m")
	tok := fieldOf(t, g, "token")
	if out := cli(0, "lock", "acquire", "admin/users", asDee); !strings.Contains(out, "READ ONLY") || !strings.Contains(out, "adding staff") {
		t.Fatalf("second acquire: %s", out)
	}
	waited := make(chan string, 1)
	go func() {
		var out bytes.Buffer
		st := Run(ctx, []string{"lock", "acquire", "admin/users", "--wait", asDee}, strings.NewReader(""), &out, &out)
		waited <- fmt.Sprintf("exit %d: %s", st, out.String())
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(cli(0, "lock", "show", "admin/users"), "Dee"); {
		if time.Now().After(deadline) {
			t.Fatal("the waiter never joined the queue")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cli(0, "lock", "release", "admin/users", "--lock-token", tok)
	select {
	case out := <-waited:
		if !strings.HasPrefix(out, "exit 0") || !strings.Contains(out, "EXCLUSIVE") {
			t.Fatalf("lock acquire --wait: %s", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lock acquire --wait was not granted after the release")
	}
	if out := cli(1, "lock", "keepalive", "admin/users", "--lock-token", tok); !strings.Contains(out, "lock_not_held") {
		t.Fatalf("keepalive with the released token: %s", out)
	}
	if out := cli(0, "lock", "list"); !strings.Contains(out, "admin/users") || !strings.Contains(out, "Dee") {
		t.Fatalf("lock list: %s", out)
	}
	// Config: a managed domain needs the lock's current token; the
	// forced-off holder's write is refused.
	deeGrant := fieldOf(t, cli(0, "lock", "acquire", "admin/users", asDee), "token")
	if out := cli(1, "config", "set", "users", "ann.role=clerk"); !strings.Contains(out, "lock_not_held") {
		t.Fatalf("config set without the lock: %s", out)
	}
	if out := cli(0, "config", "set", "users", "ann.role=clerk", "bob.role=manager", "--lock-token", deeGrant, "--if-version", "0", asDee); !strings.Contains(out, "version:") {
		t.Fatalf("config set: %s", out)
	}
	// While Dee holds admin/users, principals are hers to change: the
	// admin is refused, naming her; Dee passes her grant.
	if out := cli(1, "principal", "create", "--name", "Gil", "--role", "user"); !strings.Contains(out, "lock_held") || !strings.Contains(out, "Dee") {
		t.Fatalf("principal create while Dee holds admin/users: %s", out)
	}
	if out := cli(0, "principal", "create", "--name", "Gil", "--role", "user", "--lock-token", deeGrant, asDee); fieldOf(t, out, "id") == "" {
		t.Fatalf("principal create under Dee's grant: %s", out)
	}
	if out := cli(1, "config", "set", "users", "ann.role=x", "--lock-token", deeGrant, "--if-version", "0", asDee); !strings.Contains(out, "version_mismatch") {
		t.Fatalf("config set at a stale version: %s", out)
	}
	if out := cli(0, "config", "set", "users", "--unset", "bob.role", "--lock-token", deeGrant, asDee); fieldOf(t, out, "version") != "2" {
		t.Fatalf("config set --unset: %s", out)
	}
	if out := cli(0, "config", "get", "users"); !strings.Contains(out, "ann.role") || strings.Contains(out, "bob.role") || fieldOf(t, out, "version") != "2" {
		t.Fatalf("config get: %s", out)
	}

	wctx, stopWatch := context.WithCancel(ctx)
	var watchBuf bytes.Buffer
	watchOut := &lockedWriter{w: &watchBuf}
	seen := func(s string) bool {
		watchOut.mu.Lock()
		defer watchOut.mu.Unlock()
		return strings.Contains(watchBuf.String(), s)
	}
	watched := make(chan int, 1)
	go func() {
		watched <- Run(wctx, []string{"lock", "watch", "admin/users"}, strings.NewReader(""), watchOut, io.Discard)
	}()
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("lock watch: no %s within 10 s", what)
			}
		}
	}
	waitUntil("lock state", func() bool { return seen("fence:") }) // printed once it follows the stream
	cli(0, "lock", "acquire", "admin/users", "--force")
	waitUntil("lock.force event", func() bool { return seen("lock.force") })
	stopWatch()
	if st := <-watched; st != 0 {
		t.Fatalf("lock watch: exit %d", st)
	}

	// A terminal's token is rotated: the old one stops at once.
	newToka := fieldOf(t, cli(0, "terminal", "rotate-token", ta), "token")
	if out := cli(1, "session", "show", s1, "--terminal-token", toka); !strings.Contains(out, "unauthenticated") {
		t.Fatalf("the old terminal token after rotation: %s", out)
	}
	cli(0, "session", "show", s1, "--terminal-token", newToka)
	// Dee's tokens are revoked: her next call is refused.
	if out := cli(0, "principal", "revoke-tokens", dee); fieldOf(t, out, "tokens_revoked") != "true" {
		t.Fatalf("principal revoke-tokens: %s", out)
	}
	if out := cli(1, "lock", "show", "admin/users", asDee); !strings.Contains(out, "unauthenticated") {
		t.Fatalf("Dee's token after revoke-tokens: %s", out)
	}

	cancel()
	select {
	case st := <-done:
		if st != 0 {
			t.Fatalf("serve exited %d", st)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}
