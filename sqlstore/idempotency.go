package sqlstore

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"

	"latchkey"
)

// What an idempotency record holds (docs/security.md, "Idempotency
// records, JSON strictness and password rules"): the caller's scope, the
// key, the response (status and body: no route that takes a key answers
// with a secret) and req_hash, an HMAC-SHA256 of the request under the
// cluster's idempotency secret. The request itself is never stored; the
// HTTP layer blanks every password in it before it gets here, so not even
// a keyed hash of a password is kept.

// idempotencySecretID names the secret's row in server_keys.
const idempotencySecretID = "idempotency"

// idempotencySecret loads (making it on first use) the 32-byte HMAC key
// of request fingerprints. It lives in the store, so every node of a
// cluster has the same one: the first node to need it inserts it, the
// others read the winner's.
func (s *Store) idempotencySecret(ctx context.Context) ([]byte, error) {
	s.idemMu.Lock()
	defer s.idemMu.Unlock()
	if s.idemKey != nil {
		return s.idemKey, nil
	}
	load := func() ([]byte, error) {
		var enc string
		if err := s.queryRow(ctx, "SELECT private_key FROM server_keys WHERE id = ?", idempotencySecretID).Scan(&enc); err != nil {
			return nil, err
		}
		key, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(key) != 32 {
			return nil, latchkey.Errorf(latchkey.EINTERNAL, "the stored idempotency secret is malformed")
		}
		return key, nil
	}
	key, err := load()
	if errors.Is(err, sql.ErrNoRows) {
		fresh := make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			return nil, err
		}
		if err := s.write(ctx, func(t *tx) error {
			_, err := t.exec("INSERT INTO server_keys (id, private_key, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
				idempotencySecretID, base64.StdEncoding.EncodeToString(fresh), us(t.now))
			return err
		}); err != nil {
			return nil, err
		}
		key, err = load()
	}
	if err != nil {
		return nil, err
	}
	s.idemKey = key
	return key, nil
}

// requestMAC is the stored fingerprint of a keyed request: HMAC-SHA256
// under secret of its scope, key and (password-blanked) request, each
// length-prefixed.
func requestMAC(secret []byte, scope, key string, request []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("latchkey idempotency v1\x00"))
	for _, part := range [][]byte{[]byte(scope), []byte(key), request} {
		m.Write(binary.AppendUvarint(nil, uint64(len(part))))
		m.Write(part)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// BeginIdempotent claims an Idempotency-Key or returns its stored response
// (latchkey.DecideIdempotency).
func (s *Store) BeginIdempotent(ctx context.Context, scope, key string, request []byte) (*latchkey.StoredResponse, error) {
	secret, err := s.idempotencySecret(ctx)
	if err != nil {
		return nil, err
	}
	reqHash := requestMAC(secret, scope, key, request)
	var out *latchkey.StoredResponse
	err = s.write(ctx, func(t *tx) error {
		out = nil
		var hash, node string
		var status int
		var body []byte
		var created int64
		var applied bool
		err := t.queryRow("SELECT req_hash, status, body, created_at, node, applied FROM idempotency WHERE scope = ? AND key = ?"+s.d.forUpdate(),
			scope, key).Scan(&hash, &status, &body, &created, &node, &applied)
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		gone := false
		if found && status == 0 && node != "" {
			if gone, err = t.nodeGone(node); err != nil {
				return err
			}
		}
		rec := latchkey.IdempotencyRecord{Found: found, SameRequest: hmac.Equal([]byte(hash), []byte(reqHash)),
			Finished: status != 0, Applied: applied, ClaimantGone: gone, CreatedAt: fromUS(created)}
		switch latchkey.DecideIdempotency(rec, t.now, s.opts.IdempotencyTTL, latchkey.IdempotencyPendingTimeout) {
		case latchkey.IdempotencyLost:
			return latchkey.Errorf(latchkey.ECONFLICT, "the first request with this Idempotency-Key was applied, but the node that ran it stopped before it answered: read the resource to see the result").
				With("reason", "idempotency_response_lost")
		case latchkey.IdempotencyReplay:
			out = &latchkey.StoredResponse{Status: status, Body: body}
			return nil
		case latchkey.IdempotencyReused:
			return latchkey.Errorf(latchkey.ECONFLICT, "this Idempotency-Key was used with another request").With("reason", "idempotency_key_reused")
		case latchkey.IdempotencyInProgress:
			return inProgress()
		}
		if found {
			_, err = t.exec("UPDATE idempotency SET req_hash = ?, status = 0, body = NULL, created_at = ?, node = ?, applied = FALSE WHERE scope = ? AND key = ?",
				reqHash, us(t.now), s.opts.Node, scope, key)
			return err
		}
		_, err = t.exec("INSERT INTO idempotency (scope, key, req_hash, status, created_at, node, applied) VALUES (?, ?, ?, 0, ?, ?, FALSE)",
			scope, key, reqHash, us(t.now), s.opts.Node)
		if s.d.uniqueViolation(err) {
			return inProgress()
		}
		return err
	})
	return out, err
}

func inProgress() error {
	return latchkey.Errorf(latchkey.ECONFLICT, "a request with this Idempotency-Key is in progress").With("reason", "idempotency_key_in_progress")
}

// FinishIdempotent stores the response of a claimed key.
func (s *Store) FinishIdempotent(ctx context.Context, scope, key string, r latchkey.StoredResponse) error {
	return s.write(ctx, func(t *tx) error {
		_, err := t.exec("UPDATE idempotency SET status = ?, body = ? WHERE scope = ? AND key = ?", r.Status, r.Body, scope, key)
		return err
	})
}

// AbandonIdempotent frees a claimed key.
func (s *Store) AbandonIdempotent(ctx context.Context, scope, key string) error {
	return s.write(ctx, func(t *tx) error {
		// A request whose change committed keeps its claim: freed, a retry
		// would apply it again.
		_, err := t.exec("DELETE FROM idempotency WHERE scope = ? AND key = ? AND status = 0 AND NOT applied", scope, key)
		return err
	})
}

// Sweeping deletes expired records in batches, a bounded number per call
// so that one sweep never holds the writer long; the next sweep goes on.
const (
	idempotencySweepBatch   = 1000
	idempotencySweepBatches = 20
)

// SweepIdempotency deletes the records older than the TTL (they would be
// taken as new anyway) and returns how many it deleted.
func (s *Store) SweepIdempotency(ctx context.Context) (int, error) {
	n := 0
	for i := 0; i < idempotencySweepBatches; i++ {
		var k int64
		err := s.write(ctx, func(t *tx) error {
			res, err := t.exec("DELETE FROM idempotency WHERE (scope, key) IN (SELECT scope, key FROM idempotency WHERE created_at <= ? LIMIT ?)",
				us(t.now.Add(-s.opts.IdempotencyTTL)), idempotencySweepBatch)
			if err != nil {
				return err
			}
			k, err = res.RowsAffected()
			return err
		})
		n += int(k)
		if err != nil || k < idempotencySweepBatch {
			return n, err
		}
	}
	return n, nil
}

// nodeGone says whether node is known to have died or left: listed, and
// silent for the dead-after time. A node not listed (a store whose
// nodes do not beat, as in tests) is not known to be gone.
func (t *tx) nodeGone(node string) (bool, error) {
	var seen int64
	err := t.queryRow("SELECT last_seen FROM nodes WHERE id = ?", node).Scan(&seen)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !latchkey.NodeAlive(fromUS(seen), t.now, t.s.opts.NodeDeadAfter), nil
}

// markApplied marks the keyed request of ctx (if any) applied, in t: the
// transaction of its change.
func (t *tx) markApplied(claim latchkey.IdempotencyClaim) error {
	_, err := t.exec("UPDATE idempotency SET applied = TRUE WHERE scope = ? AND key = ? AND NOT applied", claim.Scope, claim.Key)
	return err
}
