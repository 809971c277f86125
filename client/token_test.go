package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"latchkey"
	"latchkey/client"
)

// A server that accepts only the token "new": the client with a reload
// retries once with the token reload gives, and keeps it; without one, or
// when reload gives nothing new, the 401 comes back as it was.
func TestTokenReload(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer new" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			w.Write([]byte(`{"error":{"code":"unauthenticated","message":"missing, invalid or expired token","details":{}}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"t_1","name":"x","site":"s_1","locked_groups":[]}`))
	}))
	defer srv.Close()
	ctx := context.Background()

	plain := client.New(srv.URL, client.WithToken("old"))
	if _, err := plain.GetTerminal(ctx, "t_1"); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Fatalf("without reload: %v, want unauthenticated", err)
	}

	var reloads atomic.Int32
	file := "new"
	c := client.New(srv.URL, client.WithToken("old"), client.WithTokenReload(func() (string, error) {
		reloads.Add(1)
		return file, nil
	}))
	calls.Store(0)
	if _, err := c.GetTerminal(ctx, "t_1"); err != nil {
		t.Fatalf("with reload: %v", err)
	}
	if c.Token() != "new" || reloads.Load() != 1 || calls.Load() != 2 {
		t.Fatalf("token %q after %d reloads and %d calls; want new, 1, 2", c.Token(), reloads.Load(), calls.Load())
	}
	if _, err := c.GetTerminal(ctx, "t_1"); err != nil || reloads.Load() != 1 {
		t.Fatalf("the next call: %v, %d reloads; want the kept token, no reload", err, reloads.Load())
	}

	stale := client.New(srv.URL, client.WithToken("old"), client.WithTokenReload(func() (string, error) { return "old", nil }))
	calls.Store(0)
	if _, err := stale.GetTerminal(ctx, "t_1"); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED || calls.Load() != 1 {
		t.Fatalf("reload gives the same token: %v after %d calls; want unauthenticated after 1", err, calls.Load())
	}
	broken := client.New(srv.URL, client.WithToken("old"), client.WithTokenReload(func() (string, error) { return "", errors.New("no file") }))
	if _, err := broken.GetTerminal(ctx, "t_1"); latchkey.ErrorCode(err) != latchkey.EUNAUTHENTICATED {
		t.Fatalf("reload fails: %v, want unauthenticated", err)
	}
}
