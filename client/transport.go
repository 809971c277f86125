package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// ErrPlainHTTP is returned (wrapped) for a request that would carry a
// credential (a bearer token, or a body, which may hold a password) over
// plain http:// to a host that is not a loopback address.
var ErrPlainHTTP = errors.New("refusing to send credentials over plain http:// to a host that is not loopback")

// WithRootCAs makes the client trust only the certificates in pool as
// roots for the server's certificate (instead of the system's roots). It
// needs the default HTTP client or one whose Transport is an
// *http.Transport.
func WithRootCAs(pool *x509.CertPool) Option { return func(c *Client) { c.roots = pool } }

// WithInsecureHTTP lets the client send its token (and passwords) over
// plain http:// to any host; without it, only loopback addresses are
// called that way (see ErrPlainHTTP).
func WithInsecureHTTP() Option { return func(c *Client) { c.insecureHTTP = true } }

// LoadCAFile reads PEM certificates from path into a pool for WithRootCAs.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// CheckPlainHTTP returns an error wrapping ErrPlainHTTP when rawURL is a
// plain http:// URL whose host is not a loopback address: 127.0.0.0/8,
// ::1, "localhost" or a name under ".localhost" (RFC 6761). https://
// URLs, loopback addresses and anything that is not http:// pass.
func CheckPlainHTTP(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("server URL: %w", err)
	}
	if !strings.EqualFold(u.Scheme, "http") || IsLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrPlainHTTP, u.Host)
}

// IsLoopbackHost reports whether host (without port or brackets) names
// the local machine only.
func IsLoopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// httpClient returns the HTTP client c sends with: base with the roots of
// WithRootCAs in its transport, behind the plain-HTTP guard.
func (c *Client) httpClient(base *http.Client) (*http.Client, error) {
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	if c.roots != nil {
		tr, ok := next.(*http.Transport)
		if !ok {
			return nil, errors.New("client: WithRootCAs needs an *http.Transport")
		}
		tr = tr.Clone()
		cfg := &tls.Config{}
		if tr.TLSClientConfig != nil {
			cfg = tr.TLSClientConfig.Clone()
		}
		cfg.RootCAs = c.roots
		cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
		tr.TLSClientConfig = cfg
		next = tr
	}
	hc := *base
	hc.Transport = &guard{next: next, insecure: c.insecureHTTP}
	return &hc, nil
}

// guard refuses requests that would carry a credential over plain HTTP
// to a host that is not loopback, redirects included (it sees every
// request the http.Client sends).
type guard struct {
	next     http.RoundTripper
	insecure bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if !g.insecure && carriesCredential(req) {
		if err := CheckPlainHTTP(req.URL.String()); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	return g.next.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the transport
// behind the guard.
func (g *guard) CloseIdleConnections() {
	if ci, ok := g.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// carriesCredential reports whether req sends a token or a body (the API's
// bodies without a token are logins, with a password).
func carriesCredential(req *http.Request) bool {
	return req.Header.Get("Authorization") != "" || req.ContentLength > 0 ||
		(req.Body != nil && req.Body != http.NoBody)
}
