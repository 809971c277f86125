package latchkey

import (
	"context"
	"time"
)

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
	Finished bool
	// Applied: the first request's change committed (marked in its own
	// transaction), though its response may not be stored yet.
	Applied bool
	// ClaimantGone: the node that claimed the key is known to have died
	// or stopped (false when it is alive or unknown).
	ClaimantGone bool
	CreatedAt    time.Time
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
	// IdempotencyLost refuses a key whose first request was applied by a
	// node that died before it stored the answer (conflict): running it
	// again would apply it twice, and the answer is gone; the caller reads
	// the resource to see the result.
	IdempotencyLost
)

// DecideIdempotency is the rule for a keyed request, given what is stored
// for its key: a key older than ttl is taken as new whatever it holds;
// otherwise another request under the key is refused, and a finished one
// is replayed. An unfinished one is in progress while its node lives
// (and, whatever the node, for pending at most); once its node is gone
// (or pending has passed) it is run again, unless its change had
// committed: then it is never run again, and the caller is told its
// answer was lost.
func DecideIdempotency(r IdempotencyRecord, now time.Time, ttl, pending time.Duration) IdempotencyAction {
	age := now.Sub(r.CreatedAt)
	gone := r.ClaimantGone || age >= pending
	switch {
	case !r.Found, age >= ttl:
		return IdempotencyRun
	case !r.SameRequest:
		return IdempotencyReused
	case r.Finished:
		return IdempotencyReplay
	case !gone:
		return IdempotencyInProgress
	case r.Applied:
		return IdempotencyLost
	}
	return IdempotencyRun
}

// IdempotencyClaim names a keyed request being run, so that the store can
// mark it applied in the transaction of its change.
type IdempotencyClaim struct{ Scope, Key string }

type idempotencyClaimKey struct{}

// WithIdempotencyClaim returns a context whose store writes mark claim
// applied in their own transactions.
func WithIdempotencyClaim(ctx context.Context, claim IdempotencyClaim) context.Context {
	return context.WithValue(ctx, idempotencyClaimKey{}, claim)
}

// IdempotencyClaimOf returns the claim of WithIdempotencyClaim (ok false:
// none).
func IdempotencyClaimOf(ctx context.Context) (IdempotencyClaim, bool) {
	c, ok := ctx.Value(idempotencyClaimKey{}).(IdempotencyClaim)
	return c, ok
}

// StoredResponse is a response kept for an Idempotency-Key.
type StoredResponse struct {
	Status int
	Body   []byte
}

// IdempotencyService remembers the first response to a keyed request.
type IdempotencyService interface {
	// BeginIdempotent claims (scope, key) for request: the canonical
	// request body with every password blanked (the HTTP layer's
	// fingerprint input). The store keeps only an HMAC of it under a
	// server secret, never the request. It returns the stored response of
	// an earlier, finished request with the same key and request;
	// conflict if the key was used with another request or its first
	// request is still running (DecideIdempotency). A key older than the
	// store's TTL is taken as new.
	BeginIdempotent(ctx context.Context, scope, key string, request []byte) (*StoredResponse, error)
	// FinishIdempotent stores the response; AbandonIdempotent frees the key
	// after a response that must not be replayed (a 5xx).
	FinishIdempotent(ctx context.Context, scope, key string, r StoredResponse) error
	AbandonIdempotent(ctx context.Context, scope, key string) error
	// SweepIdempotency deletes the records older than the TTL (the
	// sweeper) and returns how many.
	SweepIdempotency(ctx context.Context) (int, error)
}
