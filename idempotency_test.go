package latchkey_test

import (
	"testing"
	"time"

	"latchkey"
)

func TestDecideIdempotency(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const ttl, pending = 24 * time.Hour, time.Minute
	at := func(ago time.Duration) time.Time { return now.Add(-ago) }
	cases := []struct {
		name string
		rec  latchkey.IdempotencyRecord
		want latchkey.IdempotencyAction
	}{
		{"new key", latchkey.IdempotencyRecord{}, latchkey.IdempotencyRun},
		{"retry of a finished request", latchkey.IdempotencyRecord{Found: true, SameRequest: true, Finished: true, CreatedAt: at(time.Hour)}, latchkey.IdempotencyReplay},
		{"retry just before expiry", latchkey.IdempotencyRecord{Found: true, SameRequest: true, Finished: true, CreatedAt: at(ttl - time.Microsecond)}, latchkey.IdempotencyReplay},
		{"retry at expiry is new", latchkey.IdempotencyRecord{Found: true, SameRequest: true, Finished: true, CreatedAt: at(ttl)}, latchkey.IdempotencyRun},
		{"another request under the key", latchkey.IdempotencyRecord{Found: true, Finished: true, CreatedAt: at(time.Hour)}, latchkey.IdempotencyReused},
		{"another request under an expired key", latchkey.IdempotencyRecord{Found: true, Finished: true, CreatedAt: at(ttl + time.Hour)}, latchkey.IdempotencyRun},
		{"first still running", latchkey.IdempotencyRecord{Found: true, SameRequest: true, CreatedAt: at(pending - time.Second)}, latchkey.IdempotencyInProgress},
		{"first abandoned (its node died long ago)", latchkey.IdempotencyRecord{Found: true, SameRequest: true, CreatedAt: at(pending)}, latchkey.IdempotencyRun},
		{"first's node gone before its change", latchkey.IdempotencyRecord{Found: true, SameRequest: true, ClaimantGone: true, CreatedAt: at(time.Second)}, latchkey.IdempotencyRun},
		{"first's node gone after its change", latchkey.IdempotencyRecord{Found: true, SameRequest: true, ClaimantGone: true, Applied: true, CreatedAt: at(time.Second)}, latchkey.IdempotencyLost},
		{"first applied, its node alive: answer coming", latchkey.IdempotencyRecord{Found: true, SameRequest: true, Applied: true, CreatedAt: at(time.Second)}, latchkey.IdempotencyInProgress},
		{"first applied, abandoned long ago", latchkey.IdempotencyRecord{Found: true, SameRequest: true, Applied: true, CreatedAt: at(pending)}, latchkey.IdempotencyLost},
		{"first finished though its node is gone", latchkey.IdempotencyRecord{Found: true, SameRequest: true, Finished: true, Applied: true, ClaimantGone: true, CreatedAt: at(time.Second)}, latchkey.IdempotencyReplay},
		{"another request while the first runs", latchkey.IdempotencyRecord{Found: true, CreatedAt: at(time.Second)}, latchkey.IdempotencyReused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := latchkey.DecideIdempotency(c.rec, now, ttl, pending); got != c.want {
				t.Fatalf("got %d, want %d", got, c.want)
			}
		})
	}
}
