package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

func idemRows(t *testing.T, s *sqlstore.Store) int {
	t.Helper()
	var n int
	if err := s.Write(context.Background(), func(tx *sqlstore.Tx) error {
		return tx.Scan("SELECT COUNT(*) FROM idempotency", nil, &n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIdempotencyExpiry: a key older than the TTL (here configured to an
// hour) is taken as new, even with another request, and the sweep deletes
// it; a younger one still replays.
func TestIdempotencyExpiry(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		clock := sqlstoretest.NewClock()
		opts := sqlstoretest.Options(clock)
		opts.IdempotencyTTL = time.Hour
		s := sqlstoretest.Open(t, b.URL(t), opts)
		finish := func(key string, status int) {
			t.Helper()
			if err := s.FinishIdempotent(ctx, "sc", key, latchkey.StoredResponse{Status: status, Body: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := s.BeginIdempotent(ctx, "sc", "k1", []byte("A")); err != nil || r != nil {
			t.Fatalf("claim k1: %v %v", r, err)
		}
		finish("k1", 201)
		clock.Advance(time.Hour - time.Second)
		if r, err := s.BeginIdempotent(ctx, "sc", "k1", []byte("A")); err != nil || r == nil || r.Status != 201 {
			t.Fatalf("replay before expiry: %+v %v", r, err)
		}
		if n, err := s.SweepIdempotency(ctx); err != nil || n != 0 {
			t.Fatalf("sweep before expiry: %d %v", n, err)
		}
		if _, err := s.BeginIdempotent(ctx, "sc", "k2", []byte("A")); err != nil {
			t.Fatal(err)
		}
		finish("k2", 200)
		clock.Advance(time.Second)
		// k1 has expired: another request under it is new, not a conflict.
		if r, err := s.BeginIdempotent(ctx, "sc", "k1", []byte("B")); err != nil || r != nil {
			t.Fatalf("expired key: %+v %v, want a new claim", r, err)
		}
		finish("k1", 202)
		if r, err := s.BeginIdempotent(ctx, "sc", "k1", []byte("B")); err != nil || r == nil || r.Status != 202 {
			t.Fatalf("replay of the new request: %+v %v", r, err)
		}
		// The sweep deletes what is older than the TTL, and only that.
		clock.Advance(time.Hour - 2*time.Second)
		if n, err := s.SweepIdempotency(ctx); err != nil || n != 0 || idemRows(t, s) != 2 {
			t.Fatalf("early sweep: %d %v, rows %d", n, err, idemRows(t, s))
		}
		clock.Advance(time.Second)
		if n, err := s.SweepIdempotency(ctx); err != nil || n != 1 || idemRows(t, s) != 1 {
			t.Fatalf("sweep of k2: %d %v, rows %d", n, err, idemRows(t, s))
		}
		clock.Advance(time.Hour)
		if n, err := s.SweepIdempotency(ctx); err != nil || n != 1 || idemRows(t, s) != 0 {
			t.Fatalf("sweep of k1: %d %v, rows %d", n, err, idemRows(t, s))
		}
		if r, err := s.BeginIdempotent(ctx, "sc", "k2", []byte("A")); err != nil || r != nil {
			t.Fatalf("swept key: %+v %v, want a new claim", r, err)
		}
	})
}

// TestIdempotencySweepBatches: one sweep deletes many expired records
// (more than one batch), bounded per call.
func TestIdempotencySweepBatches(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		clock := sqlstoretest.NewClock()
		s := sqlstoretest.Open(t, b.URL(t), sqlstoretest.Options(clock))
		if err := s.Write(ctx, func(tx *sqlstore.Tx) error {
			for i := 0; i < 2500; i++ {
				if err := tx.Exec("INSERT INTO idempotency (scope, key, req_hash, status, created_at) VALUES ('sc', ?, 'h', 200, ?)",
					"k"+strconvFormat(int64(i)), clock.Now().UnixMicro()); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(latchkey.DefaultIdempotencyTTL)
		if n, err := s.SweepIdempotency(ctx); err != nil || n != 2500 || idemRows(t, s) != 0 {
			t.Fatalf("sweep: %d %v, rows left %d", n, err, idemRows(t, s))
		}
	})
}

// TestIdempotencySecretIsSharedAndKeyed: the stored fingerprint is not a
// plain SHA-256 of the request, and two nodes on one database key it the
// same way (a retry on another node replays).
func TestIdempotencySecretIsSharedAndKeyed(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		clock := sqlstoretest.NewClock()
		url := b.URL(t)
		a := sqlstoretest.Open(t, url, sqlstoretest.Options(clock))
		nodeB := sqlstoretest.Open(t, url, sqlstoretest.Options(clock))
		req := []byte(`{"name":"b"}`)
		if _, err := a.BeginIdempotent(ctx, "sc", "k", req); err != nil {
			t.Fatal(err)
		}
		if err := a.FinishIdempotent(ctx, "sc", "k", latchkey.StoredResponse{Status: 201, Body: []byte(`{"id":"s"}`)}); err != nil {
			t.Fatal(err)
		}
		if r, err := nodeB.BeginIdempotent(ctx, "sc", "k", req); err != nil || r == nil || r.Status != 201 {
			t.Fatalf("replay on the other node: %+v %v", r, err)
		}
		var hash string
		var secrets int
		if err := a.Write(ctx, func(tx *sqlstore.Tx) error {
			if err := tx.Scan("SELECT req_hash FROM idempotency WHERE key = 'k'", nil, &hash); err != nil {
				return err
			}
			return tx.Scan("SELECT COUNT(*) FROM server_keys WHERE id = 'idempotency'", nil, &secrets)
		}); err != nil {
			t.Fatal(err)
		}
		plain := sha256.Sum256(req)
		if len(hash) != 64 || hash == hex.EncodeToString(plain[:]) || secrets != 1 {
			t.Fatalf("req_hash %s (plain SHA-256 %x), secrets %d", hash, plain, secrets)
		}
	})
}

// A keyed request claimed by a node that dies: a retry on another node
// runs at once if the first never committed its change, and is refused
// (response lost, never applied twice) if it had; while the claimant
// lives, a retry is in progress.
func TestIdempotencyClaimantDies(t *testing.T) {
	forEach(t, func(t *testing.T, b sqlstoretest.Backend) {
		ctx := context.Background()
		clock := sqlstoretest.NewClock()
		url := b.URL(t)
		optsA, optsB := sqlstoretest.Options(clock), sqlstoretest.Options(clock)
		optsA.Node, optsB.Node = "node_a", "node_b"
		a, bNode := sqlstoretest.Open(t, url, optsA), sqlstoretest.Open(t, url, optsB)
		beat := func(s *sqlstore.Store, id string) {
			t.Helper()
			if err := s.Heartbeat(ctx, latchkey.Node{ID: id, Addr: id, StartedAt: clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		beat(a, "node_a")
		beat(bNode, "node_b")
		for _, applied := range []bool{false, true} {
			key := map[bool]string{false: "k-not-applied", true: "k-applied"}[applied]
			if _, err := a.BeginIdempotent(ctx, "sc", key, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if applied { // node_a's change commits, marked applied in its transaction; then node_a dies
				claimed := latchkey.WithIdempotencyClaim(ctx, latchkey.IdempotencyClaim{Scope: "sc", Key: key})
				if err := a.Write(claimed, func(tx *sqlstore.Tx) error { return tx.Exec("CREATE TABLE effect (x INTEGER)") }); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := bNode.BeginIdempotent(ctx, "sc", key, []byte(`{}`)); latchkey.ErrorDetails(err)["reason"] != "idempotency_key_in_progress" {
				t.Fatalf("%s: a retry while node_a lives: %v", key, err)
			}
			clock.Advance(latchkey.DefaultNodeDeadAfter)
			beat(bNode, "node_b")
			_, err := bNode.BeginIdempotent(ctx, "sc", key, []byte(`{}`))
			switch {
			case !applied && err != nil:
				t.Fatalf("%s: a retry after node_a died before its change: %v, want it run", key, err)
			case applied && latchkey.ErrorDetails(err)["reason"] != "idempotency_response_lost":
				t.Fatalf("%s: a retry after node_a died after its change: %v, want response lost", key, err)
			}
			if applied {
				if err := bNode.AbandonIdempotent(ctx, "sc", key); err != nil {
					t.Fatal(err)
				}
				if _, err := bNode.BeginIdempotent(ctx, "sc", key, []byte(`{}`)); latchkey.ErrorDetails(err)["reason"] != "idempotency_response_lost" {
					t.Fatalf("an applied claim was freed by abandon: %v", err)
				}
			}
			beat(a, "node_a") // back for the next round
		}
	})
}
