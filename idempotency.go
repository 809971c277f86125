package latchkey

import "time"

// Idempotency-Key records (API.md "Conventions").
const (
	// DefaultIdempotencyTTL is how long a finished request's response is
	// kept for replay; an older key is taken as new.
	DefaultIdempotencyTTL = 24 * time.Hour
	// IdempotencyPendingTimeout is how long a claimed key whose request
	// never finished (its node died) refuses a retry as in progress; after
	// it the retry runs the request.
	IdempotencyPendingTimeout = time.Minute
)

// IdempotencyRecord is what the store holds for a (scope, key) when a
// request with that key arrives.
type IdempotencyRecord struct {
	Found bool
	// SameRequest: the stored request fingerprint is the arriving one's.
	SameRequest bool
	// Finished: a response is stored.
	Finished  bool
	CreatedAt time.Time
}

// IdempotencyAction is what to do with a keyed request.
type IdempotencyAction int

const (
	// IdempotencyRun claims the key (a new one, an expired one, or one
	// whose first request was abandoned) and runs the request.
	IdempotencyRun IdempotencyAction = iota
	// IdempotencyReplay answers the stored response; nothing runs.
	IdempotencyReplay
	// IdempotencyReused refuses a key used with another request (conflict).
	IdempotencyReused
	// IdempotencyInProgress refuses a key whose first request is still
	// running (conflict).
	IdempotencyInProgress
)

// DecideIdempotency is the rule for a keyed request, given what is stored
// for its key: a key older than ttl is taken as new whatever it holds;
// otherwise another request under the key is refused, a finished one is
// replayed, and an unfinished one is refused until it is older than
// pending (its node died), then run again.
func DecideIdempotency(r IdempotencyRecord, now time.Time, ttl, pending time.Duration) IdempotencyAction {
	age := now.Sub(r.CreatedAt)
	switch {
	case !r.Found, age >= ttl:
		return IdempotencyRun
	case !r.SameRequest:
		return IdempotencyReused
	case r.Finished:
		return IdempotencyReplay
	case age < pending:
		return IdempotencyInProgress
	}
	return IdempotencyRun
}
