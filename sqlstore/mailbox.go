package sqlstore

import (
	"context"
	"sync"
	"time"
)

// mailChannel is the PostgreSQL NOTIFY channel that names a terminal whose
// instructions changed.
const mailChannel = "latchkey_mail"

// mailbox wakes the long-polls of one terminal's agent when that
// terminal's instructions change, and nobody else's: with thousands of
// idle agents, waking every poll on every commit would cost a store
// transaction per agent per commit.
type mailbox struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func newMailbox() *mailbox { return &mailbox{m: map[string]chan struct{}{}} }

func (b *mailbox) wait(terminal string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch, ok := b.m[terminal]
	if !ok {
		ch = make(chan struct{})
		b.m[terminal] = ch
	}
	return ch
}

func (b *mailbox) notify(terminal string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch, ok := b.m[terminal]; ok {
		close(ch)
		delete(b.m, terminal)
	}
}

// notifyAll wakes every waiting poll (after the listener reconnected and
// may have missed notifications).
func (b *mailbox) notifyAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for t, ch := range b.m {
		close(ch)
		delete(b.m, t)
	}
}

// InstructionsChanged returns a channel closed when the terminal's
// instructions change after this call (on any node, on PostgreSQL).
func (s *Store) InstructionsChanged(terminal string) <-chan struct{} { return s.mail.wait(terminal) }

// NextInstructionIn says how long until the terminal's next instruction
// becomes deliverable without any change (a pending one's ready time or
// a delivered one's lock lapse; 0 or less: now), and whether there is
// one at all.
func (s *Store) NextInstructionIn(ctx context.Context, terminal string) (time.Duration, bool, error) {
	var pending, locked *int64
	if err := s.queryRow(ctx, `SELECT MIN(CASE WHEN state = 'pending' THEN ready_at END), MIN(CASE WHEN state = 'delivered' THEN locked_until END)
		FROM instructions WHERE terminal_id = ? AND state IN ('pending', 'delivered')`, terminal).Scan(&pending, &locked); err != nil {
		return 0, false, err
	}
	var due time.Time
	for _, v := range []*int64{pending, locked} {
		if v != nil && (due.IsZero() || fromUS(*v).Before(due)) {
			due = fromUS(*v)
		}
	}
	if due.IsZero() {
		return 0, false, nil
	}
	return due.Sub(s.now()), true, nil
}
