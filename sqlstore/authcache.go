package sqlstore

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"latchkey"
)

// The per-node cache of token → caller (issue 15): every API request
// authenticates, and reading the token and its principal from the store
// for each one was a store round trip per request. A cached caller is
// used only while the cache is fresh: a look at the audit trail, at most
// authWindow old, found no change since its last look that revokes a
// token or changes a caller (revokingActions). So a revocation on
// another node is refused here within authWindow of its commit; on the
// node that made it, at once (the write flushes the cache before it
// answers).
//
// Why the bound holds: a look that started at L saw every commit before L
// (audit seqs follow commit order); entries are used until L+authWindow
// only. A revocation committed at T after L is seen by the next look,
// which starts at or after L+authWindow, so after T; until then at most
// L+authWindow-T < authWindow has passed.

// authWindow is how long a look keeps the cache fresh: under the one
// second the issue allows, leaving room for the look itself on a busy
// node.
const authWindow = 750 * time.Millisecond

// authCacheMax bounds the entries; a full cache starts again empty.
const authCacheMax = 100_000

// revokingActions are the audit actions whose change can refuse a token
// or change what it authenticates as: a log-out, tokens revoked, a
// principal's role, disabling or name changed, a password changed (which
// revokes the other tokens), a terminal's token rotated. Every such write
// records one of them.
var revokingActions = []latchkey.Action{
	latchkey.ActionAuthLogout,
	latchkey.ActionAuthRevokeTokens,
	latchkey.ActionPrincipalUpdate,
	latchkey.ActionIdentityPassword,
	latchkey.ActionTerminalTokenRotate,
}

// revokingQuery counts the revoking records after a seq, and those not
// chained yet (PostgreSQL's audit_pending; see auditchain.go), and gives
// the last seq: SELECT last, count, pending with the arguments (seq,
// actions…, seq). One statement, one snapshot: a record the chainer moves
// meanwhile is seen on one side or the other.
var revokingQuery = "SELECT COALESCE(MAX(seq), ?), COALESCE(SUM(CASE WHEN action IN (?" +
	strings.Repeat(", ?", len(revokingActions)-1) + ") THEN 1 ELSE 0 END), 0), " +
	"(SELECT COUNT(*) FROM audit_pending WHERE revokes) FROM audit WHERE seq > ?"

// revokes reports whether a record of action a revokes (revokingActions).
func revokes(a latchkey.Action) bool { return slices.Contains(revokingActions, a) }

type authEntry struct {
	caller  latchkey.Caller
	expires time.Time // the token's expiry (store clock); zero: none
}

type authCache struct {
	mu      sync.Mutex
	entries map[string]authEntry // by token hash
	gen     uint64               // moved by every flush: a read begun before it is not cached
	fresh   time.Time            // entries are used before this instant (this machine's clock)
	started bool                 // seq holds the audit trail's last seq at a look
	seq     int64
	looking sync.Mutex // one look at a time
	reads   int64      // store reads for Authenticate (a test counts them)
}

// get returns the cached caller of hash, if the cache is fresh at wall and
// the token has not expired at now.
func (c *authCache) get(hash string, now, wall time.Time) (latchkey.Caller, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || !wall.Before(c.fresh) || (!e.expires.IsZero() && !now.Before(e.expires)) {
		return latchkey.Caller{}, false
	}
	return e.caller, true
}

// begin notes a store read for Authenticate and returns the generation it
// starts in.
func (c *authCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.gen
}

// put caches a caller read in generation gen, unless a flush came since.
func (c *authCache) put(gen uint64, hash string, e authEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil || len(c.entries) >= authCacheMax {
		c.entries = map[string]authEntry{}
	}
	c.entries[hash] = e
}

// flush forgets every entry.
func (c *authCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.gen++
}

// refreshAuth looks at the audit trail when the cache is not fresh: a
// change since the last look that revokes flushes it; either way it is
// fresh for authWindow from the look's start. One caller looks at a time;
// the others read the store meanwhile. A failed look leaves it stale.
func (s *Store) refreshAuth(ctx context.Context) {
	c := &s.auth
	c.mu.Lock()
	fresh := time.Now().Before(c.fresh)
	c.mu.Unlock()
	if fresh || !c.looking.TryLock() {
		return
	}
	defer c.looking.Unlock()
	start := time.Now()
	c.mu.Lock()
	seq, started := c.seq, c.started
	c.mu.Unlock()
	var last int64
	var revoked bool
	if !started {
		var err error
		if last, err = s.LatestEventSeq(ctx); err != nil {
			return
		}
		revoked = true // nothing is known from before: start empty
	} else {
		var n, pending int64
		args := []any{seq}
		for _, a := range revokingActions {
			args = append(args, string(a))
		}
		if err := s.queryRow(ctx, revokingQuery, append(args, seq)...).Scan(&last, &n, &pending); err != nil {
			return
		}
		revoked = n > 0 || pending > 0
	}
	if revoked {
		c.flush()
	}
	c.mu.Lock()
	c.seq, c.started, c.fresh = max(c.seq, last), true, start.Add(authWindow)
	c.mu.Unlock()
}

// AuthReads counts the store reads Authenticate made (the rest were
// answered from the cache).
func (s *Store) AuthReads() int64 {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	return s.auth.reads
}
