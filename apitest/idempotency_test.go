package apitest_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

// keyedRaw sends a raw JSON request with an Idempotency-Key and returns
// its status, body and whether it was a replay.
func (w *world) keyedRaw(token, method, path, key, body string) (int, string, bool) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.url+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Idempotent-Replayed") == "true"
}

// openRawDB opens the world's database directly, as someone who got hold
// of it (or of a backup) would read it.
func (w *world) openRawDB() *sql.DB {
	w.t.Helper()
	driver, dsn := "pgx", w.storeURL
	if path, ok := strings.CutPrefix(w.storeURL, "sqlite://"); ok {
		driver, dsn = "sqlite", "file:"+path
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { db.Close() })
	return db
}

type idemRow struct {
	scope, key, reqHash string
	body                []byte
}

func (w *world) idempotencyRows() []idemRow {
	w.t.Helper()
	rows, err := w.openRawDB().Query("SELECT scope, key, req_hash, body FROM idempotency")
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []idemRow
	for rows.Next() {
		var r idemRow
		if err := rows.Scan(&r.scope, &r.key, &r.reqHash, &r.body); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// TestIdempotencyRecordsHoldNoPasswords is hole 8: keyed calls that carry
// passwords (a new identity, a password change, a terminal logon and
// unlock, a journal upload) leave records from which no password can be
// recovered by guessing: hashing candidate bodies with plain SHA-256
// matches no stored hash (before the fix, req_hash was exactly
// SHA-256(body)), and no stored byte holds a password. Retries are still
// answered from the records.
func TestIdempotencyRecordsHoldNoPasswords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		w := newWorld(t, b, client.SiteCreate{}, 1)
		const newPw = "Correct-Horse-42"
		aliceTok, err := client.New(w.url).Login(ctx, "alice", pw("alice"))
		if err != nil {
			t.Fatal(err)
		}
		now := w.clock.Now().Format(time.RFC3339)
		type call struct{ token, path, body string }
		login := `{"identity":"bob","password":"` + pw("bob") + `","time_sent":"` + now + `"}`
		calls := []call{
			{w.admin.Token(), "/v1/principals/" + w.bob.ID + "/identities", `{"login":"bob2","password":"` + newPw + `"}`},
			{aliceTok.Token, "/v1/identities/alice/password", `{"old_password":"` + pw("alice") + `","new_password":"` + newPw + `-a"}`},
			{w.tc[0].Token(), "/v1/terminals/" + w.terms[0].ID + "/sessions", login},
			{w.tc[0].Token(), "/v1/agent/journal", `{"entries":[{"id":"off-1","identity":"bob","started_at":"` + now +
				`","ended_at":"` + now + `","standalone":true,"password":"` + pw("bob") + `"}]}`},
		}
		first := make([]string, len(calls))
		for i, c := range calls {
			code, out, replayed := w.keyedRaw(c.token, "POST", c.path, "key-"+c.path, c.body)
			if code >= 300 || replayed {
				t.Fatalf("%s: %d %s", c.path, code, out)
			}
			first[i] = out
		}
		// The session is locked and unlocked with a password, keyed too.
		var sess struct {
			Session struct{ ID string } `json:"session"`
		}
		decodeInto(t, first[2], &sess)
		if code, out, _ := w.keyedRaw(w.tc[0].Token(), "POST", "/v1/sessions/"+sess.Session.ID+"/lock", "lock",
			`{"time_sent":"`+now+`","reason":"manual"}`); code != 200 {
			t.Fatalf("lock: %d %s", code, out)
		}
		unlock := `{"identity":"bob","password":"` + pw("bob") + `","time_sent":"` + now + `"}`
		calls = append(calls, call{w.tc[0].Token(), "/v1/sessions/" + sess.Session.ID + "/unlock", unlock})
		code, out, _ := w.keyedRaw(w.tc[0].Token(), "POST", calls[4].path, "key-"+calls[4].path, unlock)
		if code != 200 {
			t.Fatalf("unlock: %d %s", code, out)
		}
		first = append(first, out)

		// Retries are answered from the records, and act once.
		for i, c := range calls {
			code, out, replayed := w.keyedRaw(c.token, "POST", c.path, "key-"+c.path, c.body)
			if !replayed || out != first[i] || code >= 300 {
				t.Fatalf("retry of %s: %d replayed=%v %s, first %s", c.path, code, replayed, out, first[i])
			}
		}

		// Guessing: every candidate password in the body of every call,
		// hashed with plain SHA-256, the real ones among them.
		candidates := []string{"password", "12345678", pw("bob"), pw("alice"), newPw, newPw + "-a", "hunter22"}
		rows := w.idempotencyRows()
		if len(rows) != len(calls)+1 { // + the keyed lock
			t.Fatalf("%d idempotency records, want %d", len(rows), len(calls)+1)
		}
		stored := map[string]bool{}
		for _, r := range rows {
			stored[r.reqHash] = true
			for _, secret := range candidates[2:] {
				for _, field := range []string{r.scope, r.key, r.reqHash, string(r.body)} {
					if strings.Contains(field, secret) {
						t.Errorf("record %s %s holds a password: %q", r.scope, r.key, field)
					}
				}
			}
		}
		for _, c := range calls {
			var real string
			for _, p := range candidates[2:] {
				if strings.Contains(c.body, p) && len(p) > len(real) {
					real = p
				}
			}
			for _, guess := range candidates {
				sum := sha256.Sum256([]byte(strings.ReplaceAll(c.body, real, guess)))
				if stored[hex.EncodeToString(sum[:])] {
					t.Fatalf("%s: a stored hash is SHA-256 of the body with password %q", c.path, guess)
				}
			}
		}
	})
}

// TestIdempotencyRecordsExpire: with the injected clock, a key replays for
// 24 hours; then the same key and body are a new request, and the sweeper
// deletes the record.
func TestIdempotencyRecordsExpire(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 0)
		create := func() (string, bool) {
			t.Helper()
			// A new token each time (the admin's lasts 12 h); the key's
			// scope is the principal, not the token.
			tok, err := client.New(w.url).Login(context.Background(), "admin", adminPassword)
			if err != nil {
				t.Fatal(err)
			}
			code, out, replayed := w.keyedRaw(tok.Token, "POST", "/v1/sites", "site-key", `{"name":"ttl"}`)
			if code != 201 {
				t.Fatalf("create site: %d %s", code, out)
			}
			var s struct{ ID string }
			decodeInto(t, out, &s)
			return s.ID, replayed
		}
		id1, _ := create()
		w.clock.Advance(24*time.Hour - time.Second)
		if id, replayed := create(); id != id1 || !replayed {
			t.Fatalf("within 24 h: site %s replayed=%v, want a replay of %s", id, replayed, id1)
		}
		w.clock.Advance(time.Second)
		id2, replayed := create()
		if id2 == id1 || replayed {
			t.Fatalf("after 24 h: site %s replayed=%v, want a new site", id2, replayed)
		}
		if n := len(w.idempotencyRows()); n != 1 {
			t.Fatalf("%d records, want 1", n)
		}
		w.clock.Advance(24 * time.Hour)
		if n, err := w.store.SweepIdempotency(context.Background()); err != nil || n != 1 || len(w.idempotencyRows()) != 0 {
			t.Fatalf("sweep: %d %v, %d records left", n, err, len(w.idempotencyRows()))
		}
	})
}

func decodeInto(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}
