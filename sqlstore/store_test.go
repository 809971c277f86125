package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

var admin = latchkey.Caller{Role: latchkey.RoleAdmin, PrincipalID: "prn_test_admin"}

// env is one store with a site, a terminal or two and a person.
type env struct {
	t     *testing.T
	s     *sqlstore.Store
	url   string
	clock *sqlstoretest.Clock
	site  *latchkey.Site
	terms []*latchkey.Terminal
	alice *latchkey.Principal
}

func (e *env) term(i int) latchkey.Caller {
	return latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: e.terms[i].ID}
}

func (e *env) login(i int, identity, pw string, force bool) (*latchkey.LoginResult, error) {
	return e.s.StartSession(context.Background(), e.term(i), e.terms[i].ID,
		latchkey.LoginRequest{Identity: identity, Password: pw, Force: force, TimeSent: e.clock.Now()})
}

func mustEnv(t *testing.T, b sqlstoretest.Backend, site latchkey.Site, terminals int) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, url: b.URL(t), clock: sqlstoretest.NewClock()}
	e.s = sqlstoretest.Open(t, e.url, sqlstoretest.Options(e.clock))
	var err error
	if e.site, err = e.s.CreateSite(ctx, admin, site); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < terminals; i++ {
		tm, err := e.s.RegisterTerminal(ctx, admin, "counter "+string(rune('A'+i)), e.site.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.terms = append(e.terms, tm)
	}
	if e.alice, err = e.s.CreatePrincipal(ctx, admin, latchkey.Principal{Name: "alice", Role: latchkey.RoleUser}); err != nil {
		t.Fatal(err)
	}
	for _, login := range []string{"alice", "alice2"} {
		if _, err := e.s.AddIdentity(ctx, admin, e.alice.ID, login, pw(login)); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

var forEach = sqlstoretest.ForEach

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := latchkey.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestMigrateTwiceAndBootstrap(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		url := b.URL(t)
		s := sqlstoretest.Open(t, url, sqlstoretest.Options(nil))
		created, pw, err := s.Bootstrap(context.Background(), "")
		if err != nil || !created || len(pw) < 16 {
			t.Fatalf("bootstrap: created=%v pw=%q err=%v", created, pw, err)
		}
		s.Close()
		s2 := sqlstoretest.Open(t, url, sqlstoretest.Options(nil)) // migrations run again: no-op
		if created, _, err := s2.Bootstrap(context.Background(), "other"); err != nil || created {
			t.Fatalf("second bootstrap: created=%v err=%v", created, err)
		}
		tok, err := s2.Login(context.Background(), "admin", pw)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s2.Authenticate(context.Background(), tok.Token)
		if err != nil || c.Role != latchkey.RoleAdmin {
			t.Fatalf("authenticate: %+v %v", c, err)
		}
		if err := s2.Logout(context.Background(), tok.Token); err != nil {
			t.Fatal(err)
		}
		_, err = s2.Authenticate(context.Background(), tok.Token)
		wantCode(t, err, latchkey.EUNAUTHENTICATED)
	})
}

func TestTokensAreStoredHashed(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 1)
		tok, err := e.s.Login(context.Background(), "alice", pw("alice"))
		if err != nil {
			t.Fatal(err)
		}
		db := rawDB(t, b, e.url)
		var n int
		for _, secret := range []string{tok.Token, e.terms[0].Token} {
			if err := db.QueryRow("SELECT COUNT(*) FROM tokens WHERE hash = '" + secret + "'").Scan(&n); err != nil || n != 0 {
				t.Fatalf("a token is stored in the clear (n=%d err=%v)", n, err)
			}
		}
		var hash string
		if err := db.QueryRow("SELECT password_hash FROM identities WHERE login = 'alice'").Scan(&hash); err != nil || !strings.HasPrefix(hash, "$argon2id$") {
			t.Fatalf("password hash %q is not argon2id (err %v)", hash, err)
		}
		// The offline verifier made for agents is its own argon2id hash
		// with its own salt, never the stored hash.
		var verifier string
		if err := db.QueryRow("SELECT offline_verifier FROM identities WHERE login = 'alice'").Scan(&verifier); err != nil ||
			!strings.HasPrefix(verifier, "$argon2id$") || verifier == hash {
			t.Fatalf("offline verifier %q (hash %q, err %v): want a separate argon2id hash", verifier, hash, err)
		}
		// An expired user token stops working.
		e.clock.Advance(13 * time.Hour)
		_, err = e.s.Authenticate(context.Background(), tok.Token)
		wantCode(t, err, latchkey.EUNAUTHENTICATED)
		if c, err := e.s.Authenticate(context.Background(), e.terms[0].Token); err != nil || c.TerminalID != e.terms[0].ID {
			t.Fatalf("terminal token: %+v %v", c, err)
		}
	})
}

// rawDB opens the store's database directly, as an intruder with file or
// database access would.
func rawDB(t *testing.T, b sqlstoretest.Backend, url string) *sql.DB {
	return sqlstoretest.RawDB(t, b, url)
}

func TestAuditChainDetectsEdits(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 2)
		ctx := context.Background()
		if _, err := e.login(0, "alice", pw("alice"), false); err != nil {
			t.Fatal(err)
		}
		v, err := e.s.VerifyAudit(ctx, admin)
		if err != nil || !v.OK || v.Records < 6 {
			t.Fatalf("verify before edit: %+v %v", v, err)
		}
		recs, err := e.s.ListAudit(ctx, admin, latchkey.AuditFilter{Action: "session.login"})
		if err != nil || len(recs) != 1 {
			t.Fatalf("list: %v %v", recs, err)
		}
		// The table refuses the edit; its owner, with the trigger out of
		// the way, can make it (and the chain check finds it).
		db := rawDB(t, b, e.url)
		if _, err := db.Exec("UPDATE audit SET actor = 'mallory' WHERE seq = " + formatInt(recs[0].Seq)); err == nil {
			t.Fatal("the audit table took an UPDATE")
		}
		sqlstoretest.Tamper(t, e.url, "UPDATE audit SET actor = 'mallory' WHERE seq = "+formatInt(recs[0].Seq))
		v, err = e.s.VerifyAudit(ctx, admin)
		if err != nil || v.OK || v.FirstBadSeq != recs[0].Seq {
			t.Fatalf("verify after edit: %+v %v; want first bad %d", v, err, recs[0].Seq)
		}
		_, err = e.s.VerifyAudit(ctx, latchkey.Caller{Role: latchkey.RoleDelegate, PrincipalID: "x"})
		wantCode(t, err, latchkey.EFORBIDDEN)
	})
}

func formatInt(n int64) string { return strconvFormat(n) }

func TestIdleTimeouts(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		site := latchkey.DefaultSite("s")
		site.InactivityLockMinutes, site.ForcedTimeoutMinutes = 5, 74
		e := mustEnv(t, b, site, 2)
		ctx := context.Background()
		r, err := e.login(0, "alice", pw("alice"), false)
		if err != nil {
			t.Fatal(err)
		}
		// Idle past the inactivity lock: locked by the server, so a login
		// elsewhere is no longer a concurrent session.
		e.clock.Advance(5 * time.Minute)
		if _, err := e.login(1, "alice", pw("alice"), false); err != nil {
			t.Fatalf("login elsewhere after inactivity lock: %v", err)
		}
		s0, err := e.s.GetSession(ctx, e.term(0), r.Session.ID)
		if err != nil || s0.LockedAt == nil || !s0.LockedAt.Equal(r.Session.StartedAt.Add(5*time.Minute)) {
			t.Fatalf("session 0 after inactivity: %+v %v", s0, err)
		}
		// Idle past the forced timeout: expired; the terminal is told.
		e.clock.Advance(70 * time.Minute)
		_, err = e.s.TouchSession(ctx, e.term(0), r.Session.ID)
		wantCode(t, err, latchkey.ECONFLICT)
		s0, _ = e.s.GetSession(ctx, admin, r.Session.ID)
		if s0.Status != latchkey.SessionExpired || s0.EndReason != latchkey.EndForcedTimeout {
			t.Fatalf("session 0 after forced timeout: %+v", s0)
		}
		recs, _ := e.s.ListAudit(ctx, admin, latchkey.AuditFilter{Action: "session.expired"})
		if len(recs) != 1 || recs[0].Target != r.Session.ID {
			t.Fatalf("expiry audit: %+v", recs)
		}
		// The sweeper applies due timeouts to sessions nobody calls.
		e.clock.Advance(74 * time.Minute)
		n, err := e.s.ApplyTimeouts(ctx)
		if err != nil || n != 1 {
			t.Fatalf("sweeper: n=%d err=%v", n, err)
		}
	})
}

func TestLockoutAndEvent26(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 1)
		ctx := context.Background()
		r, err := e.login(0, "alice", pw("alice"), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.LockSession(ctx, e.term(0), r.Session.ID, latchkey.LockRequest{TimeSent: e.clock.Now(), Reason: "manual"}); err != nil {
			t.Fatal(err)
		}
		unlock := func(pw string) error {
			_, err := e.s.UnlockSession(ctx, e.term(0), r.Session.ID, latchkey.UnlockRequest{Identity: "alice", Password: pw, TimeSent: e.clock.Now()})
			return err
		}
		for i := 0; i < 4; i++ {
			wantCode(t, unlock("wrong"), latchkey.EINVALIDCREDENTIALS)
		}
		err = unlock("wrong")
		wantCode(t, err, latchkey.EACCOUNTLOCKED)
		if _, ok := latchkey.ErrorDetails(err)["until"]; !ok {
			t.Fatal("account_locked without details.until")
		}
		wantCode(t, unlock(pw("alice")), latchkey.EACCOUNTLOCKED)
		evs, _, err := e.s.ListTerminalEvents(ctx, admin, e.terms[0].ID, latchkey.Page{})
		if err != nil || len(evs) != 6 {
			t.Fatalf("events: %d %v", len(evs), err)
		}
		want := []string{"invalid_credentials", "invalid_credentials", "invalid_credentials", "invalid_credentials", "attempts_exceeded", "account_locked"}
		for i, ev := range evs {
			if ev.Event != 26 || ev.Reason != want[i] {
				t.Fatalf("event %d = %d/%s, want 26/%s", i, ev.Event, ev.Reason, want[i])
			}
		}
		e.clock.Advance(15 * time.Minute)
		if err := unlock(pw("alice")); err != nil {
			t.Fatalf("unlock after lockout lapsed: %v", err)
		}
	})
}

func TestTerminalEventsIdempotent(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 2)
		ctx := context.Background()
		batch := []latchkey.TerminalEvent{
			{ID: "e1", Event: 24, OccurredAt: e.clock.Now().Add(-time.Hour)},
			{ID: "e2", Event: 25, OccurredAt: e.clock.Now().Add(-time.Minute), Identity: "alice"},
		}
		if n, err := e.s.RecordTerminalEvents(ctx, e.term(0), e.terms[0].ID, batch); err != nil || n != 2 {
			t.Fatalf("first upload: %d %v", n, err)
		}
		if n, err := e.s.RecordTerminalEvents(ctx, e.term(0), e.terms[0].ID, batch); err != nil || n != 0 {
			t.Fatalf("re-upload stored %d (err %v), want 0", n, err)
		}
		_, err := e.s.RecordTerminalEvents(ctx, e.term(1), e.terms[0].ID, batch)
		wantCode(t, err, latchkey.EFORBIDDEN)
		evs, _, _ := e.s.ListTerminalEvents(ctx, admin, e.terms[0].ID, latchkey.Page{})
		if len(evs) != 2 || !evs[0].OccurredAt.Equal(batch[0].OccurredAt) || !evs[0].ReceivedAt.Equal(e.clock.Now()) {
			t.Fatalf("stored events: %+v", evs)
		}
	})
}

func TestIdempotencyKeys(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		e := mustEnv(t, b, latchkey.DefaultSite("s"), 0)
		ctx := context.Background()
		if r, err := e.s.BeginIdempotent(ctx, "sc", "k", []byte("h1")); err != nil || r != nil {
			t.Fatalf("claim: %v %v", r, err)
		}
		_, err := e.s.BeginIdempotent(ctx, "sc", "k", []byte("h1"))
		wantCode(t, err, latchkey.ECONFLICT) // in progress
		if err := e.s.FinishIdempotent(ctx, "sc", "k", latchkey.StoredResponse{Status: 201, Body: []byte(`{"id":"x"}`)}); err != nil {
			t.Fatal(err)
		}
		r, err := e.s.BeginIdempotent(ctx, "sc", "k", []byte("h1"))
		if err != nil || r == nil || r.Status != 201 || string(r.Body) != `{"id":"x"}` {
			t.Fatalf("replay: %+v %v", r, err)
		}
		_, err = e.s.BeginIdempotent(ctx, "sc", "k", []byte("h2"))
		wantCode(t, err, latchkey.ECONFLICT) // reused with another body
	})
}

// On PostgreSQL the store's sessions end a transaction left idle longer
// than a job's lease (a node frozen mid-step must not keep its job's row
// locked from the other nodes' claims), unless the store URL says
// otherwise.
func TestPostgresIdleInTransactionTimeout(t *testing.T) {
	t.Parallel()
	b := sqlstoretest.Postgres()
	ctx := context.Background()
	url := b.URL(t)
	s := sqlstoretest.Open(t, url, sqlstoretest.Options(sqlstoretest.NewClock()))
	if v, err := s.Setting(ctx, "idle_in_transaction_session_timeout"); err != nil || v != "3s" {
		t.Fatalf("default: %q, %v; want 3s", v, err)
	}
	set := sqlstoretest.Open(t, url+"&idle_in_transaction_session_timeout=10000", sqlstoretest.Options(sqlstoretest.NewClock()))
	if v, err := set.Setting(ctx, "idle_in_transaction_session_timeout"); err != nil || v != "10s" {
		t.Fatalf("set in the URL: %q, %v; want 10s", v, err)
	}
}
