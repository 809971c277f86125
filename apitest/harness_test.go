package apitest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"latchkey"
	"latchkey/client"
	lkhttp "latchkey/http"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

const adminPassword = "admin-password"

// world is one latchkey server (in-process, on a real store) with a site,
// terminals, two people and clients for each.
type world struct {
	t        *testing.T
	store    *sqlstore.Store
	clock    *sqlstoretest.Clock
	storeURL string
	url      string
	admin    *client.Client
	site     *latchkey.Site
	terms    []*latchkey.Terminal
	tc       []*client.Client // terminal clients, by index
	alice    *latchkey.Principal
	bob      *latchkey.Principal
}

var forEachBackend = sqlstoretest.ForEach

// newWorld starts a server on backend b with n terminals at one site made
// with the given settings.
func newWorld(t *testing.T, b sqlstoretest.Backend, site client.SiteCreate, n int) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, clock: sqlstoretest.NewClock()}
	w.storeURL = b.URL(t)
	w.store = sqlstoretest.Open(t, w.storeURL, sqlstoretest.Options(w.clock))
	if _, _, err := w.store.Bootstrap(ctx, adminPassword); err != nil {
		t.Fatal(err)
	}
	w.url = w.serve(w.store)
	srv := struct{ URL string }{w.url}
	tok, err := client.New(srv.URL).Login(ctx, "admin", adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	w.admin = client.New(srv.URL, client.WithToken(tok.Token))
	if site.Name == "" {
		site.Name = "branch"
	}
	if w.site, err = w.admin.CreateSite(ctx, site); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		tm, err := w.admin.RegisterTerminal(ctx, fmt.Sprintf("counter %d", i), w.site.ID)
		if err != nil {
			t.Fatal(err)
		}
		w.terms = append(w.terms, tm)
		w.tc = append(w.tc, client.New(srv.URL, client.WithToken(tm.Token)))
	}
	w.alice = w.person("alice", false, "alice", "alice2")
	w.bob = w.person("bob", false, "bob")
	return w
}

// serve starts an HTTP server (a node) on store and returns its URL.
func (w *world) serve(store *sqlstore.Store) string {
	lk := lkhttp.NewServer(store, lkhttp.Options{})
	srv := httptest.NewServer(lk.Handler())
	w.t.Cleanup(srv.Close)
	w.t.Cleanup(lk.EndStreams) // runs first: open event streams end
	return srv.URL
}

// addNode starts a second, independent node on the same store URL (its own
// connection pool, nothing shared in memory) and returns its URL.
func (w *world) addNode() string {
	return w.serve(sqlstoretest.Open(w.t, w.storeURL, sqlstoretest.Options(w.clock)))
}

// pw is the password of identity login in every test: "pw-<login>",
// lengthened with "-pw" until latchkey.CheckNewPassword takes it ("pw-bob"
// is too short: "pw-bob-pw"). Every fixture that sets or types a person's
// password calls it, so the convention lives here only.
func pw(login string) string {
	s := "pw-" + login
	for len(s) < latchkey.MinPasswordLen {
		s += "-pw"
	}
	return s
}

// person creates a user with identities whose passwords are pw(login).
func (w *world) person(name string, global bool, logins ...string) *latchkey.Principal {
	w.t.Helper()
	ctx := context.Background()
	p, err := w.admin.CreatePrincipal(ctx, latchkey.Principal{Name: name, Role: latchkey.RoleUser, Global: global})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, l := range logins {
		if _, err := w.admin.AddIdentity(ctx, p.ID, l, pw(l)); err != nil {
			w.t.Fatal(err)
		}
	}
	return p
}

func (w *world) login(term int, identity string, force bool) (*latchkey.LoginResult, error) {
	return w.tc[term].StartSession(context.Background(), w.terms[term].ID,
		latchkey.LoginRequest{Identity: identity, Password: pw(identity), Force: force, TimeSent: w.clock.Now()})
}

func (w *world) mustLogin(term int, identity string, force bool) *latchkey.LoginResult {
	w.t.Helper()
	r, err := w.login(term, identity, force)
	if err != nil {
		w.t.Fatalf("login %s at terminal %d: %v", identity, term, err)
	}
	return r
}

func (w *world) lock(term int, id string) (*latchkey.Session, error) {
	return w.tc[term].LockSession(context.Background(), id, latchkey.LockRequest{TimeSent: w.clock.Now(), Reason: "manual"})
}

func (w *world) mustLock(term int, id string) {
	w.t.Helper()
	if _, err := w.lock(term, id); err != nil {
		w.t.Fatalf("lock %s: %v", id, err)
	}
}

func (w *world) unlock(term int, id, identity string, force bool) (*latchkey.Session, error) {
	return w.tc[term].UnlockSession(context.Background(), id,
		latchkey.UnlockRequest{Identity: identity, Password: pw(identity), Force: force, TimeSent: w.clock.Now()})
}

func (w *world) session(id string) *latchkey.Session {
	w.t.Helper()
	s, err := w.admin.GetSession(context.Background(), id)
	if err != nil {
		w.t.Fatalf("get session %s: %v", id, err)
	}
	return s
}

// snapshot is the observable state a refused call must leave unchanged:
// every session of both people, and the audit records other than refusals.
type snapshot struct {
	sessions map[string]latchkey.Session
	audit    int
}

func (w *world) snapshot() snapshot {
	w.t.Helper()
	ctx := context.Background()
	s := snapshot{sessions: map[string]latchkey.Session{}}
	for _, p := range []*latchkey.Principal{w.alice, w.bob} {
		items, _, err := w.admin.ListPrincipalSessions(ctx, p.ID, "", latchkey.Page{Limit: 1000})
		if err != nil {
			w.t.Fatal(err)
		}
		for _, x := range items {
			s.sessions[x.ID] = x
		}
	}
	recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, r := range recs {
		if !isRefusal(string(r.Action)) {
			s.audit++
		}
	}
	return s
}

func isRefusal(action string) bool {
	switch action {
	case "session.login_refused", "session.unlock_refused", "auth.login_refused":
		return true
	}
	return false
}

func (w *world) assertUnchanged(before snapshot, what string) {
	w.t.Helper()
	after := w.snapshot()
	if after.audit != before.audit {
		w.t.Errorf("%s: %d state-change audit records appeared", what, after.audit-before.audit)
	}
	if len(after.sessions) != len(before.sessions) {
		w.t.Errorf("%s: sessions went from %d to %d", what, len(before.sessions), len(after.sessions))
	}
	for id, b := range before.sessions {
		a := after.sessions[id]
		if a.Status != b.Status || (a.LockedAt == nil) != (b.LockedAt == nil) {
			w.t.Errorf("%s: session %s changed from %s/locked=%v to %s/locked=%v", what, id,
				b.Status, b.LockedAt != nil, a.Status, a.LockedAt != nil)
		}
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := latchkey.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func sessionIDs(err error) map[string]bool {
	out := map[string]bool{}
	for _, s := range client.ConflictSessions(err) {
		out[s.ID] = true
	}
	return out
}

// adminRaw sends body as JSON with the admin's token, bypassing the
// client's checks, and returns the status and the body of the answer.
func (w *world) adminRaw(method, path, body string) (int, string) {
	w.t.Helper()
	return w.rawAs(w.admin.Token(), method, path, body)
}

// rawAs sends a raw JSON request with token and returns its status and body.
func (w *world) rawAs(token, method, path, body string) (int, string) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.url+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
