package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"latchkey"
)

// pendingTimeout is how long a claimed key whose request never finished
// (its node died) blocks a retry before the retry may run it again.
const pendingTimeout = time.Minute

// BeginIdempotent claims an Idempotency-Key or returns its stored response.
func (s *Store) BeginIdempotent(ctx context.Context, scope, key, reqHash string) (*latchkey.StoredResponse, error) {
	var out *latchkey.StoredResponse
	err := s.write(ctx, func(t *tx) error {
		var hash string
		var status int
		var body []byte
		var created int64
		err := t.queryRow("SELECT req_hash, status, body, created_at FROM idempotency WHERE scope = ? AND key = ?"+s.d.forUpdate(),
			scope, key).Scan(&hash, &status, &body, &created)
		if errors.Is(err, sql.ErrNoRows) {
			_, err := t.exec("INSERT INTO idempotency (scope, key, req_hash, status, created_at) VALUES (?, ?, ?, 0, ?)",
				scope, key, reqHash, us(t.now))
			if s.d.uniqueViolation(err) {
				return latchkey.Errorf(latchkey.ECONFLICT, "a request with this Idempotency-Key is in progress").With("reason", "idempotency_key_in_progress")
			}
			return err
		}
		if err != nil {
			return err
		}
		if hash != reqHash {
			return latchkey.Errorf(latchkey.ECONFLICT, "this Idempotency-Key was used with another request").With("reason", "idempotency_key_reused")
		}
		if status != 0 {
			out = &latchkey.StoredResponse{Status: status, Body: body}
			return nil
		}
		if t.now.Sub(fromUS(created)) < pendingTimeout {
			return latchkey.Errorf(latchkey.ECONFLICT, "a request with this Idempotency-Key is in progress").With("reason", "idempotency_key_in_progress")
		}
		_, err = t.exec("UPDATE idempotency SET created_at = ? WHERE scope = ? AND key = ?", us(t.now), scope, key)
		return err
	})
	return out, err
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
		_, err := t.exec("DELETE FROM idempotency WHERE scope = ? AND key = ? AND status = 0", scope, key)
		return err
	})
}
