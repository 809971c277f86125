package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey"
	lkhttp "latchkey/http"
)

// Tokens the stub knows, and the callers they stand for.
const (
	adminToken    = "tok-admin"
	delegateToken = "tok-delegate"
	userToken     = "tok-user"
	terminalToken = "tok-terminal"
)

var callers = map[string]latchkey.Caller{
	adminToken:    {Role: latchkey.RoleAdmin, PrincipalID: "p_admin"},
	delegateToken: {Role: latchkey.RoleDelegate, PrincipalID: "p_delegate"},
	userToken:     {Role: latchkey.RoleUser, PrincipalID: "p_user"},
	terminalToken: {Role: latchkey.RoleTerminal, TerminalID: "t_1"},
}

// call is one store call the stub saw (Authenticate is not recorded).
type call struct {
	method string
	caller latchkey.Caller
	args   []any
}

// stub is a latchkey.Store for routing, decoding, auth-gate and error-shape
// tests: it embeds the interface (a method not overridden here panics) and
// records every call. err, when set, is what every recorded call returns.
type stub struct {
	latchkey.Store

	mu    sync.Mutex
	calls []call
	err   error
	// hook, when set, runs for every recorded call; its non-nil error is
	// returned (it may panic, to test recovery).
	hook func(method string) error

	idem map[string]*idemEntry
}

type idemEntry struct {
	hash string
	resp *latchkey.StoredResponse
}

func newStub() *stub { return &stub{idem: map[string]*idemEntry{}} }

func (s *stub) record(method string, c latchkey.Caller, args ...any) error {
	s.mu.Lock()
	s.calls = append(s.calls, call{method, c, args})
	err, hook := s.err, s.hook
	s.mu.Unlock()
	if hook != nil {
		if hErr := hook(method); hErr != nil {
			return hErr
		}
	}
	return err
}

// recorded returns the calls seen, optionally only those of one method.
func (s *stub) recorded(method string) []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []call
	for _, c := range s.calls {
		if method == "" || c.method == method {
			out = append(out, c)
		}
	}
	return out
}

func (s *stub) Authenticate(_ context.Context, token string) (latchkey.Caller, error) {
	if c, ok := callers[token]; ok {
		return c, nil
	}
	return latchkey.Caller{}, latchkey.Errorf(latchkey.EUNAUTHENTICATED, "bad token")
}

func (s *stub) Ping(context.Context) error { return s.record("Ping", latchkey.Caller{}) }

func (s *stub) Login(_ context.Context, login, password string) (*latchkey.UserToken, error) {
	if err := s.record("Login", latchkey.Caller{}, login, password); err != nil {
		return nil, err
	}
	t := &latchkey.UserToken{Token: "tok-new", ExpiresAt: time.Unix(1e9, 0).UTC()}
	t.Principal.ID, t.Principal.Role = "p_user", latchkey.RoleUser
	return t, nil
}

func (s *stub) Logout(_ context.Context, token string) error {
	return s.record("Logout", latchkey.Caller{}, token)
}

func (s *stub) CreatePrincipal(_ context.Context, c latchkey.Caller, p latchkey.Principal) (*latchkey.Principal, error) {
	if err := s.record("CreatePrincipal", c, p); err != nil {
		return nil, err
	}
	p.ID = "p_new"
	return &p, nil
}

func (s *stub) GetPrincipal(_ context.Context, c latchkey.Caller, id string) (*latchkey.Principal, error) {
	return &latchkey.Principal{ID: id}, s.record("GetPrincipal", c, id)
}

func (s *stub) ListPrincipals(_ context.Context, c latchkey.Caller, page latchkey.Page) ([]latchkey.Principal, string, error) {
	return nil, "", s.record("ListPrincipals", c, page)
}

func (s *stub) UpdatePrincipal(_ context.Context, c latchkey.Caller, id string, u latchkey.PrincipalUpdate) (*latchkey.Principal, error) {
	return &latchkey.Principal{ID: id}, s.record("UpdatePrincipal", c, id, u)
}

func (s *stub) AddIdentity(_ context.Context, c latchkey.Caller, principalID, login, password string) (*latchkey.Identity, error) {
	return &latchkey.Identity{Login: login, PrincipalID: principalID}, s.record("AddIdentity", c, principalID, login, password)
}

func (s *stub) ChangePassword(_ context.Context, c latchkey.Caller, login, oldPassword, newPassword string) error {
	return s.record("ChangePassword", c, login, oldPassword, newPassword)
}

func (s *stub) RevokeTokens(_ context.Context, c latchkey.Caller, principalID string) error {
	return s.record("RevokeTokens", c, principalID)
}

func (s *stub) RotateTerminalToken(_ context.Context, c latchkey.Caller, terminalID string) (string, error) {
	return "tok-t2", s.record("RotateTerminalToken", c, terminalID)
}

func (s *stub) CreateSite(_ context.Context, c latchkey.Caller, x latchkey.Site) (*latchkey.Site, error) {
	x.ID = "s_new"
	return &x, s.record("CreateSite", c, x)
}

func (s *stub) GetSite(_ context.Context, c latchkey.Caller, id string) (*latchkey.Site, error) {
	return &latchkey.Site{ID: id}, s.record("GetSite", c, id)
}

func (s *stub) ListSites(_ context.Context, c latchkey.Caller, page latchkey.Page) ([]latchkey.Site, string, error) {
	return nil, "", s.record("ListSites", c, page)
}

func (s *stub) UpdateSite(_ context.Context, c latchkey.Caller, id string, u latchkey.SiteUpdate) (*latchkey.Site, error) {
	return &latchkey.Site{ID: id}, s.record("UpdateSite", c, id, u)
}

func (s *stub) RegisterTerminal(_ context.Context, c latchkey.Caller, name, siteID string) (*latchkey.Terminal, error) {
	return &latchkey.Terminal{ID: "t_new", Name: name, SiteID: siteID, Token: "tok-t"}, s.record("RegisterTerminal", c, name, siteID)
}

func (s *stub) GetTerminal(_ context.Context, c latchkey.Caller, id string) (*latchkey.Terminal, error) {
	return &latchkey.Terminal{ID: id}, s.record("GetTerminal", c, id)
}

func (s *stub) ListTerminals(_ context.Context, c latchkey.Caller, page latchkey.Page) ([]latchkey.Terminal, string, error) {
	return []latchkey.Terminal{{ID: "t_1"}}, "t_1", s.record("ListTerminals", c, page)
}

func (s *stub) StartSession(_ context.Context, c latchkey.Caller, terminalID string, r latchkey.LoginRequest) (*latchkey.LoginResult, error) {
	if err := s.record("StartSession", c, terminalID, r); err != nil {
		return nil, err
	}
	return &latchkey.LoginResult{Session: latchkey.Session{ID: "ss_new", TerminalID: terminalID, Status: latchkey.SessionActive}}, nil
}

func (s *stub) session(method string, c latchkey.Caller, id string, args ...any) (*latchkey.Session, error) {
	if err := s.record(method, c, append([]any{id}, args...)...); err != nil {
		return nil, err
	}
	return &latchkey.Session{ID: id, Status: latchkey.SessionActive}, nil
}

func (s *stub) GetSession(_ context.Context, c latchkey.Caller, id string) (*latchkey.Session, error) {
	return s.session("GetSession", c, id)
}

func (s *stub) LockSession(_ context.Context, c latchkey.Caller, id string, r latchkey.LockRequest) (*latchkey.Session, error) {
	return s.session("LockSession", c, id, r)
}

func (s *stub) UnlockSession(_ context.Context, c latchkey.Caller, id string, r latchkey.UnlockRequest) (*latchkey.Session, error) {
	return s.session("UnlockSession", c, id, r)
}

func (s *stub) TouchSession(_ context.Context, c latchkey.Caller, id string) (*latchkey.Session, error) {
	return s.session("TouchSession", c, id)
}

func (s *stub) EndSession(_ context.Context, c latchkey.Caller, id string) (*latchkey.Session, error) {
	return s.session("EndSession", c, id)
}

func (s *stub) ListPrincipalSessions(_ context.Context, c latchkey.Caller, principalID string, status latchkey.SessionStatus, page latchkey.Page) ([]latchkey.Session, string, error) {
	return nil, "", s.record("ListPrincipalSessions", c, principalID, status, page)
}

func (s *stub) RecordTerminalEvents(_ context.Context, c latchkey.Caller, terminalID string, events []latchkey.TerminalEvent) (int, error) {
	return len(events), s.record("RecordTerminalEvents", c, terminalID, events)
}

func (s *stub) ListTerminalEvents(_ context.Context, c latchkey.Caller, terminalID string, page latchkey.Page) ([]latchkey.TerminalEvent, string, error) {
	return nil, "", s.record("ListTerminalEvents", c, terminalID, page)
}

func (s *stub) ListAudit(_ context.Context, c latchkey.Caller, f latchkey.AuditFilter) ([]latchkey.AuditRecord, error) {
	if err := s.record("ListAudit", c, f); err != nil {
		return nil, err
	}
	var out []latchkey.AuditRecord
	for i := int64(1); i <= 3 && int(i) <= f.Limit; i++ {
		out = append(out, latchkey.AuditRecord{Seq: f.After + i, Details: json.RawMessage(`{}`)})
	}
	return out, nil
}

func (s *stub) VerifyAudit(_ context.Context, c latchkey.Caller) (*latchkey.AuditVerification, error) {
	return &latchkey.AuditVerification{OK: true, Records: 3}, s.record("VerifyAudit", c)
}

func (s *stub) SealAudit(_ context.Context, c latchkey.Caller) (*latchkey.AuditSeal, error) {
	return &latchkey.AuditSeal{Seq: 3, Hash: latchkey.GenesisHash}, s.record("SealAudit", c)
}

func (s *stub) ExportAudit(_ context.Context, c latchkey.Caller, after int64, fn func(latchkey.AuditRecord) error) error {
	if err := s.record("ExportAudit", c, after); err != nil {
		return err
	}
	for i := int64(1); i <= 3; i++ {
		if err := fn(latchkey.AuditRecord{Seq: after + i, Details: json.RawMessage(`{}`)}); err != nil {
			return err
		}
	}
	return nil
}

func (s *stub) SealAuditIfDue(context.Context, time.Duration) (*latchkey.AuditSeal, error) {
	return nil, s.record("SealAuditIfDue", latchkey.Caller{})
}

func (s *stub) ApplyTimeouts(context.Context) (int, error) {
	return 0, s.record("ApplyTimeouts", latchkey.Caller{})
}

// The idempotency methods keep the sqlstore's semantics in memory.

func (s *stub) BeginIdempotent(_ context.Context, scope, key string, request []byte) (*latchkey.StoredResponse, error) {
	if err := s.record("BeginIdempotent", latchkey.Caller{}, scope, key, string(request)); err != nil {
		return nil, err
	}
	reqHash := string(request)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.idem[scope+"\x00"+key]
	switch {
	case !ok:
		s.idem[scope+"\x00"+key] = &idemEntry{hash: reqHash}
		return nil, nil
	case e.hash != reqHash:
		return nil, latchkey.Errorf(latchkey.ECONFLICT, "key reused").With("reason", "idempotency_key_reused")
	case e.resp == nil:
		return nil, latchkey.Errorf(latchkey.ECONFLICT, "in progress").With("reason", "idempotency_key_in_progress")
	}
	return e.resp, nil
}

func (s *stub) FinishIdempotent(_ context.Context, scope, key string, r latchkey.StoredResponse) error {
	if err := s.record("FinishIdempotent", latchkey.Caller{}, scope, key, r); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.idem[scope+"\x00"+key]; ok {
		body := append([]byte(nil), r.Body...)
		e.resp = &latchkey.StoredResponse{Status: r.Status, Body: body}
	}
	return nil
}

func (s *stub) SweepIdempotency(context.Context) (int, error) {
	return 0, s.record("SweepIdempotency", latchkey.Caller{})
}

func (s *stub) AbandonIdempotent(_ context.Context, scope, key string) error {
	if err := s.record("AbandonIdempotent", latchkey.Caller{}, scope, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.idem[scope+"\x00"+key]; ok && e.resp == nil {
		delete(s.idem, scope+"\x00"+key)
	}
	return nil
}

// Helpers.

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// env is a server over a fresh stub, with its log captured.
type env struct {
	t    *testing.T
	st   *stub
	srv  *lkhttp.Server
	h    nethttp.Handler
	logs *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, lkhttp.Options{})
}

// newEnvWith is newEnv with server options (its logger is the env's).
func newEnvWith(t *testing.T, opts lkhttp.Options) *env {
	t.Helper()
	e := &env{t: t, st: newStub(), logs: &syncBuffer{}}
	opts.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv = lkhttp.NewServer(e.st, opts)
	e.h = e.srv.Handler()
	return e
}

// req describes one request; an empty contentType with a body means
// application/json, "-" means no Content-Type header.
type req struct {
	method, path, token string
	body                string
	bodyReader          io.Reader // instead of body, e.g. for chunked bodies
	contentType         string
	headers             map[string]string
	remote              string // the client's address (default httptest's 192.0.2.1:1234)
}

func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	var rd io.Reader
	switch {
	case r.bodyReader != nil:
		rd = r.bodyReader
	case r.body != "":
		rd = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, rd)
	switch {
	case r.contentType == "-":
	case r.contentType != "":
		hr.Header.Set("Content-Type", r.contentType)
	case rd != nil:
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

// apiErr is a decoded error body.
type apiErr struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// errorOf decodes w's error body, failing the test if it does not have the
// API's shape.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) apiErr {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q, want application/json (body %s)", ct, w.Body)
	}
	var body struct {
		Error *apiErr `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Error == nil || body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("body %q is not the API error shape: %v", w.Body, err)
	}
	if body.Error.Details == nil {
		t.Fatalf("body %q: details must be an object, not null or absent", w.Body)
	}
	return *body.Error
}

func decodeJSON[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", w.Body, err)
	}
	return v
}

const validTime = "2024-05-01T10:00:00Z"
