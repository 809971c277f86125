package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testCA is a certificate authority made in the test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pemPath string // its certificate, for --ca
}

func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "latchkey test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pemPath: path}
}

// issue writes a server certificate for 127.0.0.1 and localhost with
// serial to certPath and its key to keyPath, each replaced by rename.
func (ca *testCA) issue(t *testing.T, certPath, keyPath string, serial int64, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-2 * time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	replaceFile(t, certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func replaceFile(t *testing.T, path string, b []byte, perm os.FileMode) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestCertStore(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.issue(t, cert, key, 7, time.Now().Add(time.Hour))
	s, err := loadCertStore(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.config(); cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
	serial := func() int64 {
		c, err := s.config().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.Int64()
	}
	ca.issue(t, cert, key, 8, time.Now().Add(time.Hour))
	if err := s.reload(); err != nil || serial() != 8 {
		t.Fatalf("reload: %v, serial %d", err, serial())
	}
	// A bad new pair keeps the one in use: a key of another pair, an
	// expired certificate, garbage, a missing file.
	other := filepath.Join(dir, "other")
	ca.issue(t, other+".pem", other+".key", 9, time.Now().Add(time.Hour))
	os.Rename(other+".key", key)
	if err := s.reload(); err == nil || serial() != 8 {
		t.Errorf("mismatched key: %v, serial %d", err, serial())
	}
	ca.issue(t, cert, key, 10, time.Now().Add(-time.Minute))
	if err := s.reload(); err == nil || !strings.Contains(err.Error(), "expired") || serial() != 8 {
		t.Errorf("expired certificate: %v, serial %d", err, serial())
	}
	os.WriteFile(cert, []byte("garbage"), 0o644)
	if err := s.reload(); err == nil || serial() != 8 {
		t.Errorf("garbage: %v, serial %d", err, serial())
	}
	os.Remove(cert)
	if err := s.reload(); err == nil || serial() != 8 {
		t.Errorf("missing file: %v, serial %d", err, serial())
	}
	if _, err := loadCertStore(cert, key); err == nil {
		t.Error("loadCertStore of a missing certificate succeeded")
	}
}

func TestServeTLSFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--tls-cert", "c.pem"},
		{"serve", "--tls-key", "k.pem"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 2 ||
			!strings.Contains(stderr.String(), "--tls-cert and --tls-key go together") {
			t.Errorf("%v: exit %d\n%s", args, code, stderr.String())
		}
	}
	dir := t.TempDir()
	t.Setenv("LATCHKEY_ADMIN_PASSWORD", "tls-admin-pw")
	var stderr bytes.Buffer
	code := Run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--argon2-time", "1", "--argon2-memory", "64", "--tls-cert", filepath.Join(dir, "none.pem"), "--tls-key", filepath.Join(dir, "none.key")},
		strings.NewReader(""), io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "latchkey: tls:") {
		t.Errorf("serve with a missing certificate: exit %d\n%s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("serve touched its data dir before it found the certificate missing")
	}
}

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTLSEndToEnd runs the real Run: a server with --tls-cert/--tls-key
// from a CA made here, the CLI and the agent against it with --ca (the
// agent with its token from --token-file), a client without the CA
// refused, and a SIGHUP that swaps in a new certificate (and then keeps
// it when the next pair is bad).
func TestTLSEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	certPath, keyPath := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	ca.issue(t, certPath, keyPath, 1001, time.Now().Add(time.Hour))
	t.Setenv("LATCHKEY_ADMIN_PASSWORD", "tls-admin-pw")
	t.Setenv("LATCHKEY_TOKEN_FILE", filepath.Join(dir, "token"))
	for _, k := range []string{"LATCHKEY_TOKEN", "LATCHKEY_TERMINAL_TOKEN", "LATCHKEY_SERVER", "LATCHKEY_CA"} {
		t.Setenv(k, "")
	}

	// This test sends SIGHUP to its own process: keep it from being fatal
	// for as long as the test runs, whatever the server has registered.
	hup := make(chan os.Signal, 8)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	serverLog := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
			"--argon2-time", "1", "--argon2-memory", "64", "--tls-cert", certPath, "--tls-key", keyPath},
			strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			serverLog.Write([]byte(sc.Text() + "\n"))
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
	}()
	var server string
	select {
	case server = <-addr:
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not start:\n%s", serverLog.String())
	}
	if !strings.HasPrefix(server, "https://127.0.0.1:") {
		t.Fatalf("serve listens on %s, want https://127.0.0.1:...", server)
	}
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
		if t.Failed() {
			t.Logf("server output:\n%s", serverLog.String())
		}
	}()

	cli := cliRunner(t, ctx)

	// Without the CA the CLI refuses the server's certificate.
	t.Setenv("LATCHKEY_PASSWORD", "tls-admin-pw")
	if out := cli(1, "auth", "login", "--identity", "admin", "--server", server); !strings.Contains(out, "certificate signed by unknown authority") {
		t.Fatalf("login without --ca: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "token")); err == nil {
		t.Fatal("a token was saved without the CA")
	}
	// With it, the walkthrough works; $LATCHKEY_CA does as --ca.
	cli(0, "auth", "login", "--identity", "admin", "--server", server, "--ca", ca.pemPath)
	t.Setenv("LATCHKEY_SERVER", server)
	t.Setenv("LATCHKEY_CA", ca.pemPath)
	site := fieldOf(t, cli(0, "site", "create", "--name", "TLS branch"), "id")
	reg := cli(0, "terminal", "register", "--name", "counter T", "--site", site)
	term := fieldOf(t, reg, "id")
	termTokFile := filepath.Join(dir, "terminal-token")
	if err := os.WriteFile(termTokFile, []byte(fieldOf(t, reg, "token")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ann := fieldOf(t, cli(0, "principal", "create", "--name", "Ann", "--role", "user"), "id")
	t.Setenv("LATCHKEY_PASSWORD", "ann-secret-pw")
	cli(0, "identity", "add", "--principal", ann, "--login", "ann")
	cli(0, "session", "login", "--terminal", term, "--identity", "ann", "--terminal-token-file", termTokFile)
	gs := fieldOf(t, cli(0, "groupset", "create", "--name", "tools", "--group", "wheel", "--max-minutes", "30", "--eligible", ann), "id")
	t.Setenv("LATCHKEY_CA", "")

	// The agent, as in production, with --ca and --token-file.
	members := filepath.Join(dir, "members")
	actx, stopAgent := context.WithCancel(ctx)
	agentOut := &syncBuffer{}
	agentDone := make(chan int, 1)
	go func() {
		agentDone <- Run(actx, []string{"agent", "--server", server, "--ca", ca.pemPath, "--token-file", termTokFile,
			"--state-dir", filepath.Join(dir, "agent"), "--executor", "file:" + members, "--socket", "none", "--wait", "1s"},
			strings.NewReader(""), agentOut, agentOut)
	}()
	defer func() {
		stopAgent()
		select {
		case st := <-agentDone:
			if st != 0 {
				t.Errorf("agent exited %d:\n%s", st, agentOut.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("agent did not stop")
		}
	}()
	co := fieldOf(t, cli(0, "checkout", "request", "--groupset", gs, "--terminal", term, "--principal", ann, "--minutes", "10", "--ca", ca.pemPath), "checkout")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if fieldOf(t, cli(0, "checkout", "show", co, "--ca", ca.pemPath), "status") == "checked_out" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never executed the check-out over TLS:\n%s", agentOut.String())
		}
	}
	if b, err := os.ReadFile(members); err != nil || !strings.Contains(string(b), "wheel") {
		t.Fatalf("executor file: %v %q", err, b)
	}
	// The event stream (SSE) works over TLS too.
	ectx, stopTail := context.WithCancel(ctx)
	tailOut := &syncBuffer{}
	tailDone := make(chan int, 1)
	go func() {
		tailDone <- Run(ectx, []string{"events", "tail", "--after", "0", "--ca", ca.pemPath}, strings.NewReader(""), tailOut, tailOut)
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(tailOut.String(), co); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("events tail over TLS: no event of %s:\n%s", co, tailOut.String())
		}
	}
	stopTail()
	if st := <-tailDone; st != 0 {
		t.Fatalf("events tail: exit %d\n%s", st, tailOut.String())
	}

	// SIGHUP swaps in a new certificate (serial 1002) without a restart.
	u, _ := url.Parse(server)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	servedSerial := func() int64 {
		t.Helper()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", u.Host, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("dial %s: %v", u.Host, err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if s := servedSerial(); s != 1001 {
		t.Fatalf("served serial %d, want 1001", s)
	}
	ca.issue(t, certPath, keyPath, 1002, time.Now().Add(2*time.Hour))
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 10 s", what)
			}
		}
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("new certificate after SIGHUP", func() bool { return servedSerial() == 1002 })
	cli(0, "site", "list", "--ca", ca.pemPath)

	// A bad pair on the next SIGHUP: the server says why and keeps 1002.
	if err := os.WriteFile(certPath, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("refusal in the log", func() bool { return strings.Contains(serverLog.String(), "new TLS certificate refused") })
	if s := servedSerial(); s != 1002 {
		t.Fatalf("after a bad pair the server serves serial %d, want 1002", s)
	}
	cli(0, "site", "list", "--ca", ca.pemPath)
}
