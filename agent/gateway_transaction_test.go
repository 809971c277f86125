package agent

import (
	"testing"

	"latchkey"
)

// EUM-CE-CL-30 through the gateway: at a site that wants transactions
// completed first, a manual lock during a transaction is refused (online
// by the server, offline by the cached policy) and the session stays
// unlocked and in progress; outside a transaction, or an inactivity lock,
// locks; at a site that pauses them, it locks.
func TestGatewayLockDuringATransaction(t *testing.T) {
	_, f, g, _, _ := aliceGateway(t)
	f.site(func(s *latchkey.Site) { s.TransactionOnLock = latchkey.TransactionComplete })
	g.Sync(bg)
	id := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"})).Session.ID

	_, err := g.Lock(bg, LockRequest{Reason: LockManual, InTransaction: true})
	if !mustComplete(err) {
		t.Fatalf("online, complete first: %v", err)
	}
	if st := g.Status(bg); st.Session == nil || st.Session.ID != id || st.Session.LockedAt != nil {
		t.Fatalf("after the refusal: %+v", st.Session)
	}
	f.mu.Lock()
	n := len(f.locks[id])
	f.mu.Unlock()
	if n != 0 {
		t.Fatalf("the server locked it %d times", n)
	}

	f.setDown(true)
	g.Sync(bg) // standalone now
	_, err = g.Lock(bg, LockRequest{Reason: LockManual, InTransaction: true, Choice: ChoiceLockAnyway})
	if codeOf(err) != latchkey.ECONFLICT || !mustComplete(err) {
		t.Fatalf("offline, complete first, even with lock anyway: %v", err)
	}
	if st := mustStatus(t)(g.Lock(bg, LockRequest{Reason: LockInactivity, InTransaction: true})); st.Session.LockedAt == nil {
		t.Fatal("an inactivity lock during a transaction did not lock")
	}
	f.setDown(false)
	g.Sync(bg)
	mustStatus(t)(g.Unlock(bg, UnlockRequest{Password: "pw-a"}))

	f.site(func(s *latchkey.Site) { s.TransactionOnLock = latchkey.TransactionPause })
	g.Sync(bg)
	if st := mustStatus(t)(g.Lock(bg, LockRequest{Reason: LockManual, InTransaction: true})); st.Session.LockedAt == nil {
		t.Fatal("a site that pauses transactions did not lock")
	}
}
