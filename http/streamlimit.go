package http

import (
	"crypto/sha256"
	"sync"

	"latchkey"
)

// Default caps of event streams (GET /v1/events) open at once.
const (
	DefaultMaxStreamsPerToken = 8
	DefaultMaxStreams         = 10_000
)

// streamLimit counts the event streams open at this node, per token and in
// all. A stream lives as long as its client keeps it, so without a cap one
// stolen or buggy token could hold any number of goroutines and store
// readers.
type streamLimit struct {
	perToken, total int

	mu      sync.Mutex
	byToken map[[sha256.Size]byte]int // keyed by the token's hash: no token kept in memory
	open    int
}

func newStreamLimit(perToken, total int) *streamLimit {
	if perToken <= 0 {
		perToken = DefaultMaxStreamsPerToken
	}
	if total <= 0 {
		total = DefaultMaxStreams
	}
	return &streamLimit{perToken: perToken, total: total, byToken: map[[sha256.Size]byte]int{}}
}

// acquire counts a new stream of token, or refuses it with rate_limited
// (and which cap: "token" or "server"). A stream acquired is released by
// calling the returned function once.
func (l *streamLimit) acquire(token string) (release func(), capName string, err error) {
	key := sha256.Sum256([]byte(token))
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.byToken[key] >= l.perToken:
		return nil, "token", latchkey.Errorf(latchkey.ERATELIMITED,
			"this token already has %d event streams open, the most allowed: close one first", l.perToken).
			With("limit", l.perToken).With("scope", "token")
	case l.open >= l.total:
		return nil, "server", latchkey.Errorf(latchkey.ERATELIMITED,
			"this server has %d event streams open, the most it serves: try again later or another node", l.total).
			With("limit", l.total).With("scope", "server").With(retryAfterDetail, int64(5))
	}
	l.byToken[key]++
	l.open++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.open--
			if l.byToken[key]--; l.byToken[key] <= 0 {
				delete(l.byToken, key)
			}
		})
	}, "", nil
}
