package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"latchkey/client"
)

func TestCheckPlainHTTP(t *testing.T) {
	for _, tt := range []struct {
		url  string
		safe bool
	}{
		{"http://127.0.0.1:7420", true},
		{"http://127.1.2.3", true},
		{"http://[::1]:7420/", true},
		{"http://localhost:7420", true},
		{"http://LOCALHOST.", true},
		{"http://counter.localhost:80", true},
		{"https://10.0.0.5:7420", true},
		{"https://latchkey.example.org", true},
		{"HTTPS://latchkey.example.org", true},
		{"http://10.0.0.5:7420", false},
		{"http://latchkey.example.org", false},
		{"HTTP://latchkey.example.org", false},
		{"http://[::ffff:10.0.0.5]:7420", false},
		{"http://localhost.example.org", false},
		{"http://127.0.0.1.example.org", false},
		{"http://0.0.0.0:7420", false},
	} {
		err := client.CheckPlainHTTP(tt.url)
		if tt.safe && err != nil {
			t.Errorf("CheckPlainHTTP(%q) = %v, want nil", tt.url, err)
		}
		if !tt.safe && !errors.Is(err, client.ErrPlainHTTP) {
			t.Errorf("CheckPlainHTTP(%q) = %v, want ErrPlainHTTP", tt.url, err)
		}
	}
}

// recorder is a transport that answers every request itself (never
// dialing anything) and records them; a request to redirectFrom is
// answered with a 307 to redirectTo.
type recorder struct {
	mu           sync.Mutex
	seen         []string
	redirectFrom string
	redirectTo   string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+req.URL.String())
	r.mu.Unlock()
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"token":"t","expires_at":"2030-01-01T00:00:00Z"}`)), Request: req}
	if r.redirectFrom != "" && req.URL.String() == r.redirectFrom {
		resp.StatusCode = http.StatusTemporaryRedirect
		resp.Header.Set("Location", r.redirectTo)
		resp.Body = io.NopCloser(strings.NewReader(""))
	}
	return resp, nil
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func TestPlainHTTPGuard(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		base     string
		token    string
		insecure bool
		login    bool // a login: a body, no token
		refused  bool
	}{
		{name: "token to a remote http host", base: "http://10.0.0.5:7420", token: "tok", refused: true},
		{name: "password to a remote http host", base: "http://latchkey.example.org", login: true, refused: true},
		{name: "no credential to a remote http host", base: "http://10.0.0.5:7420"},
		{name: "token with --insecure-http", base: "http://10.0.0.5:7420", token: "tok", insecure: true},
		{name: "password with --insecure-http", base: "http://10.0.0.5:7420", login: true, insecure: true},
		{name: "token to https", base: "https://latchkey.example.org", token: "tok"},
		{name: "token to loopback", base: "http://127.0.0.1:7420", token: "tok"},
		{name: "token to localhost", base: "http://localhost:7420", token: "tok"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			opts := []client.Option{client.WithHTTPClient(&http.Client{Transport: rec}), client.WithToken(tt.token)}
			if tt.insecure {
				opts = append(opts, client.WithInsecureHTTP())
			}
			c := client.New(tt.base, opts...)
			var err error
			if tt.login {
				_, err = c.Login(ctx, "ann", "secret-pw")
			} else {
				err = c.Health(ctx)
			}
			if tt.refused {
				if !errors.Is(err, client.ErrPlainHTTP) {
					t.Fatalf("err = %v, want ErrPlainHTTP", err)
				}
				if got := rec.requests(); len(got) != 0 {
					t.Fatalf("requests sent: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got := rec.requests(); len(got) != 1 {
				t.Fatalf("requests sent: %v, want one", got)
			}
		})
	}
}

// TestPlainHTTPGuardRedirect: a redirect from an https server to plain
// http on another host does not take the token (or body) along.
func TestPlainHTTPGuardRedirect(t *testing.T) {
	rec := &recorder{redirectFrom: "https://latchkey.example.org/v1/auth/login", redirectTo: "http://latchkey.example.org/v1/auth/login"}
	c := client.New("https://latchkey.example.org", client.WithHTTPClient(&http.Client{Transport: rec}))
	if _, err := c.Login(context.Background(), "ann", "secret-pw"); !errors.Is(err, client.ErrPlainHTTP) {
		t.Fatalf("login redirected to http: %v, want ErrPlainHTTP", err)
	}
	if got := rec.requests(); len(got) != 1 {
		t.Fatalf("requests sent: %v, want only the first", got)
	}
}

// writeCertPEM writes srv's certificate as a PEM file and returns its path.
func writeCertPEM(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRootCAs(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	pool, err := client.LoadCAFile(writeCertPEM(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.New(srv.URL, client.WithRootCAs(pool), client.WithToken("tok")).Health(ctx); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	var unknown x509.UnknownAuthorityError
	if err := client.New(srv.URL, client.WithToken("tok")).Health(ctx); !errors.As(err, &unknown) {
		t.Fatalf("without the CA: %v, want an unknown authority", err)
	}
	// Another pool (here: empty of this server's CA) is refused too.
	other := x509.NewCertPool()
	if err := client.New(srv.URL, client.WithRootCAs(other), client.WithToken("tok")).Health(ctx); !errors.As(err, &unknown) {
		t.Fatalf("with another CA: %v, want an unknown authority", err)
	}
	// A transport the option cannot extend fails every call.
	c := client.New(srv.URL, client.WithRootCAs(pool), client.WithHTTPClient(&http.Client{Transport: &recorder{}}))
	if err := c.Health(ctx); err == nil || !strings.Contains(err.Error(), "WithRootCAs") {
		t.Fatalf("WithRootCAs on a foreign transport: %v", err)
	}
}

func TestRootCAsRefusesOldTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{MaxVersion: tls.VersionTLS11}
	srv.StartTLS()
	defer srv.Close()
	pool, err := client.LoadCAFile(writeCertPEM(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.New(srv.URL, client.WithRootCAs(pool)).Health(context.Background()); err == nil {
		t.Fatal("a TLS 1.1 server was accepted")
	}
}

func TestLoadCAFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	if _, err := client.LoadCAFile(bad); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad CA file: %v", err)
	}
	if _, err := client.LoadCAFile(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("missing CA file accepted")
	}
}
