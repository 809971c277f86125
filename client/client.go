// Package client is a Go client for latchkey's HTTP API (API.md). The CLI,
// the agent, tests and benchmarks all talk to a server through it.
//
// Methods take and return the root package's types. A refusal with the API's
// error shape comes back as a *latchkey.Error, so callers branch on
// latchkey.ErrorCode(err); any other unsuccessful answer is a *StatusError.
package client

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"latchkey"
)

// maxResponse bounds how much of a response body the client reads.
const maxResponse = 64 << 20

// Client calls a latchkey server (or the nodes of a cluster, failing over
// between them: see failover.go) with one bearer token. It is safe for
// concurrent use.
type Client struct {
	servers *servers
	token   *tokenBox
	hc      *http.Client
	// roots and insecureHTTP are set by WithRootCAs and WithInsecureHTTP;
	// setupErr (a WithRootCAs that cannot apply) fails every call.
	roots        *x509.CertPool
	insecureHTTP bool
	setupErr     error
}

// Option configures a Client.
type Option func(*Client)

// WithToken sets the bearer token (a user token or a terminal token).
func WithToken(token string) Option { return func(c *Client) { c.token.set(token) } }

// WithTokenReload gives the client a way to get its token anew (say, by
// reading a token file again): when the server answers unauthenticated,
// the client asks reload once, and when that gives another token, sends
// the request again with it and keeps it. A terminal's agent goes on
// across a rotation of its token this way (docs/security.md).
func WithTokenReload(reload func() (string, error)) Option {
	return func(c *Client) { c.token.reload = reload }
}

// defaultHTTP is shared by clients made without WithHTTPClient. Unlike
// http.DefaultClient it keeps up to 64 idle connections per server, so
// many terminals (or a benchmark) calling one server reuse connections
// instead of opening one per request; and it bounds a request's wait for
// response headers, so a dead server is noticed.
var defaultHTTP = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = 2 * time.Minute
	return &http.Client{Transport: t}
}()

// WithHTTPClient sets the HTTP client (default: a shared client that keeps
// connections to the server open).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a client for the server at baseURL, e.g. "http://127.0.0.1:7420",
// or for the nodes of a cluster, comma-separated
// ("http://10.0.0.1:7420,http://10.0.0.2:7420"), between which it fails
// over. Unless WithInsecureHTTP is given, the client refuses to send a
// token or a body over plain http:// to a host that is not loopback
// (ErrPlainHTTP).
func New(baseURL string, opts ...Option) *Client {
	c := &Client{servers: newServers(baseURL), hc: defaultHTTP, token: &tokenBox{}}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = defaultHTTP
	}
	hc, err := c.httpClient(c.hc)
	if err != nil {
		c.setupErr = err
	} else {
		c.hc = hc
	}
	return c
}

// WithToken returns a copy of c that sends token instead.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = &tokenBox{token: token}
	return &cp
}

// BaseURL returns the server address the client calls now (with several
// servers, the one that last answered).
func (c *Client) BaseURL() string { _, u := c.servers.at(0); return u }

// Token returns the bearer token the client sends ("" for none).
func (c *Client) Token() string { return c.token.get() }

type idempotencyKey struct{}

// noAutoKey marks the context of a call a failing-over client must send
// without an Idempotency-Key: the server refuses one on the routes whose
// answer is a token shown once (it is never stored, so it cannot be
// replayed). Such a call goes to another node only when its node could
// not be reached.
type noAutoKey struct{}

func withoutAutoKey(ctx context.Context) context.Context {
	return context.WithValue(ctx, noAutoKey{}, true)
}

// WithIdempotencyKey returns a context whose calls send key as the
// Idempotency-Key header: a repeat with the same key and body returns the
// first response and changes nothing.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

// IdempotencyKey returns the key set by WithIdempotencyKey, or "".
func IdempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKey{}).(string)
	return k
}

// StatusError is an unsuccessful answer without the API's error shape (a
// proxy's error page, a bug's 500): its status and the start of its body.
type StatusError struct {
	Method     string
	Path       string
	StatusCode int
	Body       string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: unexpected HTTP status %d", e.Method, e.Path, e.StatusCode)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// do sends one request. body (if not nil) is sent as JSON; a 2xx answer is
// decoded into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	if c.setupErr != nil {
		return c.setupErr
	}
	query := ""
	if len(q) > 0 {
		query = "?" + q.Encode()
	}
	key := IdempotencyKey(ctx)
	if key == "" && c.servers.failsOver() && mutating(method) && ctx.Value(noAutoKey{}) == nil {
		key = newCallKey() // the same on every node this call is sent to
	}
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
	}
	send := func(u, token string) (*http.Response, []byte, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "latchkey-client/1")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: read response: %w", method, path, err)
		}
		return resp, data, nil
	}
	call := func(u string) (*http.Response, []byte, error) {
		token := c.token.get()
		resp, data, err := send(u, token)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized {
			if fresh, ok := c.token.renew(token); ok {
				return send(u, fresh)
			}
		}
		return resp, data, nil
	}
	resp, data, err := c.failover(ctx, method, key != "", func(u string) (*http.Response, []byte, error) { return call(u + path + query) })
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return withRetryAfter(decodeError(method, path, resp.StatusCode, data), resp.Header)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if raw, ok := out.(*rawAnswer); ok {
		raw.contentType, raw.body = resp.Header.Get("Content-Type"), data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response (status %d): %w", method, path, resp.StatusCode, err)
	}
	return nil
}

// rawAnswer receives a successful answer as it is (a report's CSV, a
// chart's PNG) instead of decoding it as JSON.
type rawAnswer struct {
	contentType string
	body        []byte
}

func decodeError(method, path string, status int, data []byte) error {
	if e := latchkey.ParseErrorBody(data); e != nil {
		return e
	}
	snippet := strings.TrimSpace(string(data))
	if len(snippet) > 200 {
		snippet = snippet[:200] + "..."
	}
	return &StatusError{Method: method, Path: path, StatusCode: status, Body: snippet}
}

// RetryAfterDetail is the detail of a rate_limited error that says how
// many seconds to wait before trying again. The server puts it in the
// details; when only the Retry-After header says it (a proxy, or the
// connection cap), the client copies it there.
const RetryAfterDetail = "retry_after_seconds"

// withRetryAfter adds the Retry-After header's seconds to a rate_limited
// error that lacks them, and names the wait in its message.
func withRetryAfter(err error, h http.Header) error {
	var e *latchkey.Error
	if !errors.As(err, &e) || e.Code != latchkey.ERATELIMITED {
		return err
	}
	if _, ok := e.Details[RetryAfterDetail]; !ok {
		secs, perr := strconv.ParseInt(strings.TrimSpace(h.Get("Retry-After")), 10, 64)
		if perr != nil || secs < 0 {
			return err
		}
		e = e.With(RetryAfterDetail, float64(secs))
	}
	return e
}

// RetryAfter returns how long a rate_limited error asks to wait before
// trying again (from Retry-After), or 0 for any other error or when the
// server did not say.
func RetryAfter(err error) time.Duration {
	var e *latchkey.Error
	if !errors.As(err, &e) || e.Code != latchkey.ERATELIMITED {
		return 0
	}
	switch v := e.Details[RetryAfterDetail].(type) {
	case float64:
		if v > 0 && v < 1e9 {
			return time.Duration(v * float64(time.Second))
		}
	case int64:
		if v > 0 && v < 1e9 {
			return time.Duration(v) * time.Second
		}
	}
	return 0
}

// list is the wire shape of every list answer.
type list[T any] struct {
	Items []T    `json:"items"`
	Next  cursor `json:"next"`
}

// cursor is a list's next-page cursor: a string by the API, though a bare
// number (an audit seq) or null is taken too.
type cursor string

func (c *cursor) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*c = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = cursor(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("next: %w", err)
	}
	*c = cursor(n.String())
	return nil
}

func (c *Client) list(ctx context.Context, path string, q url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, q, nil, out)
}

// pageQuery adds ?limit= and ?after= for a page (zero values are left out).
func pageQuery(q url.Values, p latchkey.Page) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.After != "" {
		q.Set("after", p.After)
	}
	return q
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }

// withoutNulls returns v's JSON object with null members left out, so that
// a PATCH of pointer fields sends only the fields that were set.
func withoutNulls(v any) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, raw := range m {
		if string(raw) == "null" {
			delete(m, k)
		}
	}
	return m, nil
}

// Ptr returns a pointer to v, for the optional fields of SiteCreate,
// latchkey.SiteUpdate and latchkey.PrincipalUpdate.
func Ptr[T any](v T) *T { return &v }

// Health calls GET /healthz: nil when the server process runs.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

// Ready calls GET /readyz: nil when the server's store is reachable.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/readyz", nil, nil, nil)
}

// IsNotFound reports whether err is the API's not_found.
func IsNotFound(err error) bool { return latchkey.ErrorCode(err) == latchkey.ENOTFOUND }

// ConflictSessions returns the sessions listed in the details of a
// concurrent_session or identity_in_use error (nil for any other error).
func ConflictSessions(err error) []latchkey.SessionRef {
	var e *latchkey.Error
	if !errors.As(err, &e) || e.Details == nil {
		return nil
	}
	raw, ok := e.Details["sessions"]
	if !ok {
		return nil
	}
	b, mErr := json.Marshal(raw)
	if mErr != nil {
		return nil
	}
	var refs []latchkey.SessionRef
	if json.Unmarshal(b, &refs) != nil {
		return nil
	}
	return refs
}

// tokenBox holds a client's bearer token, and how to get it anew.
type tokenBox struct {
	mu     sync.Mutex
	token  string
	reload func() (string, error)
}

func (b *tokenBox) get() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.token
}

func (b *tokenBox) set(token string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.token = token
}

// renew asks reload for the token after stale was refused; ok is true
// when there is a token other than stale to try (also when another
// request renewed it meanwhile).
func (b *tokenBox) renew(stale string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reload == nil {
		return "", false
	}
	if b.token != stale {
		return b.token, true
	}
	fresh, err := b.reload()
	if err != nil || fresh == "" || fresh == stale {
		return "", false
	}
	b.token = fresh
	return fresh, true
}

// failover sends a call to the current server and, when the client has
// several, to the next ones as failover.go says: on a node it could not
// reach; on a 503; on a transport error after the request went out when
// the call is safe to repeat (not mutating, or keyed); and, for a keyed
// call another node may still be running, again after a pause. With one
// server it sends once.
func (c *Client) failover(ctx context.Context, method string, keyed bool,
	send func(base string) (*http.Response, []byte, error)) (*http.Response, []byte, error) {
	n := len(c.servers.urls)
	if n == 1 {
		_, u := c.servers.at(0)
		return send(u)
	}
	safe := keyed || !mutating(method)
	deadline := time.Now().Add(InProgressWait)
	var lastErr error
	var last *http.Response
	var lastData []byte
	for round := 0; ; round++ {
		for i := range n {
			k, u := c.servers.at(i)
			resp, data, err := send(u)
			switch {
			case err != nil && (notSent(err) || safe) && ctx.Err() == nil:
				lastErr, last = err, nil
				continue
			case err != nil:
				return nil, nil, err
			case retryElsewhere(resp.StatusCode):
				lastErr, last, lastData = nil, resp, data
				continue
			case keyed && resp.StatusCode == http.StatusConflict && inProgress(decodeError(method, "", resp.StatusCode, data)):
				lastErr, last, lastData = nil, resp, data
				continue
			}
			c.servers.answered(k)
			return resp, data, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select { // every node refused or was away: a pause, then around again
		case <-ctx.Done():
		case <-time.After(time.Duration(200*(round+1)) * time.Millisecond):
		}
	}
	if last != nil {
		return last, lastData, nil
	}
	return nil, nil, lastErr
}
