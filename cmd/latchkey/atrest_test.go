package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// serveUntilListening runs serve with args (cheap argon2, port 0 added)
// until it says it listens, then stops it; it returns the exit status and
// everything serve wrote on stderr. A serve that fails to start returns at
// once.
func serveUntilListening(t *testing.T, args ...string) (int, string) {
	t.Helper()
	t.Setenv("LATCHKEY_ADMIN_PASSWORD", "at-rest-admin-pw")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--argon2-time", "1", "--argon2-memory", "64"}, args...),
			strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	out := &syncBuffer{}
	listening := make(chan struct{}, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			if strings.HasPrefix(sc.Text(), "listening on ") {
				listening <- struct{}{}
			}
		}
	}()
	var status int
	select {
	case <-listening:
		cancel()
		status = <-done
	case status = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("serve neither listened nor stopped:\n%s", out.String())
	}
	<-copied
	return status, out.String()
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestServeTightensFiles: serve makes its data dir 0700 and the SQLite
// files 0600, both when it creates them and when they exist with looser
// modes.
func TestServeTightensFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	data := filepath.Join(t.TempDir(), "data")
	db := filepath.Join(data, "latchkey.db")
	check := func(when string) {
		t.Helper()
		if m := perm(t, data); m != 0o700 {
			t.Errorf("%s: data dir mode %04o, want 0700", when, m)
		}
		n := 0
		for _, p := range []string{db, db + "-wal", db + "-shm"} {
			if _, err := os.Stat(p); err != nil {
				continue
			}
			n++
			if m := perm(t, p); m != 0o600 {
				t.Errorf("%s: %s mode %04o, want 0600", when, filepath.Base(p), m)
			}
		}
		if n == 0 {
			t.Errorf("%s: no database file", when)
		}
	}
	if st, out := serveUntilListening(t, "--data-dir", data); st != 0 {
		t.Fatalf("first start: exit %d\n%s", st, out)
	}
	check("created")
	// Someone opened them up; the next start closes them again.
	os.Chmod(data, 0o777)
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		os.Chmod(p, 0o666)
	}
	if st, out := serveUntilListening(t, "--data-dir", data); st != 0 {
		t.Fatalf("second start: exit %d\n%s", st, out)
	}
	check("reopened")
}

// TestServeRefusesDataDirItCannotClose: a data dir whose mode cannot be
// set (procfs refuses every chmod, even root's) stops serve at start.
func TestServeRefusesDataDirItCannotClose(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	st, out := serveUntilListening(t, "--data-dir", "/proc/self")
	if st != 1 || !strings.Contains(out, "latchkey: data dir: cannot make /proc/self private") {
		t.Fatalf("exit %d\n%s", st, out)
	}
}

func TestAgentRefusesStateDirItCannotClose(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	t.Setenv("LATCHKEY_TERMINAL_TOKEN", "")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"agent", "--server", "http://127.0.0.1:1", "--token", "t", "--state-dir", "/proc/self",
		"--executor", "file:" + filepath.Join(t.TempDir(), "m"), "--socket", "none"}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "state dir: cannot make /proc/self private") {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
}

// TestServeStoreFromEnvironment: $LATCHKEY_STORE names the store when
// --store is not given; --store wins.
func TestServeStoreFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	envDB, flagDB := filepath.Join(dir, "env.db"), filepath.Join(dir, "flag.db")
	t.Setenv("LATCHKEY_STORE", "sqlite://"+envDB)
	if st, out := serveUntilListening(t, "--data-dir", filepath.Join(dir, "d1")); st != 0 {
		t.Fatalf("exit %d\n%s", st, out)
	}
	if _, err := os.Stat(envDB); err != nil {
		t.Fatalf("$LATCHKEY_STORE not used: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "d1", "latchkey.db")); err == nil {
		t.Fatal("the default store was made although $LATCHKEY_STORE is set")
	}
	if st, out := serveUntilListening(t, "--data-dir", filepath.Join(dir, "d2"), "--store", "sqlite://"+flagDB); st != 0 {
		t.Fatalf("exit %d\n%s", st, out)
	}
	if _, err := os.Stat(flagDB); err != nil {
		t.Fatalf("--store not used over $LATCHKEY_STORE: %v", err)
	}
}

// TestServeRedactsStorePasswords: a store URL's password shows in no log
// line and no error, in the URL's userinfo, a query parameter or a
// key=value DSN, whether the store opens or not.
func TestServeRedactsStorePasswords(t *testing.T) {
	const secret = "Sup3r-s3cret"
	dir := t.TempDir()
	for _, store := range []string{
		"postgres://lk:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", // nothing listens on port 1
		"postgres://lk@127.0.0.1:1/db?sslmode=disable&password=" + secret,
		"postgres://lk:" + secret + "@127.0.0.1:bad/db", // does not parse
		"postgres://lk:pw@127.0.0.1:1/db?sslmode=disable&sslpassword=" + secret,
		"host=127.0.0.1 port=1 user=lk password=" + secret, // not a URL latchkey takes
		"host=127.0.0.1 port=1 user=lk password='" + secret + " x'",
	} {
		st, out := serveUntilListening(t, "--data-dir", filepath.Join(dir, "data"), "--store", store)
		if st != 1 || strings.Contains(out, secret) || !strings.Contains(out, "xxxxx") {
			t.Errorf("store %s: exit %d, output:\n%s", latchkey.Redact(store), st, out)
		}
	}
	// A store that opens: the "serving" log line masks the password too
	// (PostgreSQL ignores a password it does not ask for).
	// From $LATCHKEY_STORE, as it would be given to keep it out of ps.
	t.Setenv("LATCHKEY_STORE", sqlstoretest.PostgresSchemaURL(t)+"&password="+secret)
	st, out := serveUntilListening(t, "--data-dir", filepath.Join(dir, "data"))
	if st != 0 || strings.Contains(out, secret) || !strings.Contains(out, "password=xxxxx") {
		t.Errorf("serving on PostgreSQL: exit %d, output:\n%s", st, out)
	}
}
