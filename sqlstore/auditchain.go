package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"latchkey"
)

// The audit chain off the critical section (PostgreSQL; issue 15).
//
// A commit batch's audit records commit with the changes they record, in
// the same transaction. When nobody holds the audit head, the batch
// chains them itself (chainInline: the head taken without waiting and
// kept to its commit). When the head is held (by another batch or a
// round), it writes them as one row of audit_pending and does not queue
// for the head. The chainer moves pending rows into the audit
// log in its own transaction: under the audit head's row lock it reads
// every committed pending row, in id order, gives their records the next
// seqs, chains their hashes onto the head, inserts them, deletes the
// rows and moves the head, and commits. So the batches of every committer
// on every node commit side by side, and only chainer rounds, each taking
// whatever has committed since the last, queue for the head.
//
// Why the chain is in commit order where it matters (docs/architecture.md,
// "The audit chain"): a row is taken by the first round whose snapshot,
// taken after it got the head's lock, sees it committed; rounds hold the
// lock until they commit, so they run one after another and each sees
// every row committed before it began. A batch B that began after a batch
// A committed drew its id after A's, and any round that sees B sees A, so
// A's records are chained first. Two batches that wrote the same row were
// ordered by that row's lock the same way. Batches that overlapped and
// touched nothing in common are chained in id order, one of the orders
// they could have run in. Seqs are given out only by rounds, one after
// another, so a reader of the log after seq N still never misses a
// record that commits later with a smaller seq.
//
// Every node's chainer runs a round when the node commits records, and
// every chainSweep when it finds pending rows nobody chained (a node
// killed between its commit and its round); a store that opens chains
// what is pending first. Records are chained within about a round of
// their commit while any node runs. Reads that judge the log (the
// listing, export, verification and seals) settle first: they chain
// what has committed before they read, so a write answered is in the log
// its writer reads next. SQLite has one writer and no lock to queue for:
// it chains in the writing transaction, as before.

// chainSweep is how often a node looks for pending rows it was not woken
// for.
const chainSweep = 250 * time.Millisecond

// chainRowsPerRound bounds the pending rows (batches) one round takes.
const chainRowsPerRound = 256

// chainer runs a node's chaining rounds.
type chainer struct {
	wake   chan struct{} // buffered 1: a poke while a round runs is kept
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	rounds atomic.Int64 // rounds that chained records
	// round is held through each round (they queue for the head's lock
	// anyway); held, set under it, stops rounds and chaining in the
	// writing transaction (tests: see HoldChain).
	round sync.Mutex
	held  atomic.Bool
}

// startChainer starts the node's chainer, whose first round chains what
// an earlier run left pending.
func (s *Store) startChainer() {
	ch := &chainer{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.chain = ch
	go s.runChainer(ch)
}

// poke asks for a round soon.
func (ch *chainer) poke() {
	select {
	case ch.wake <- struct{}{}:
	default:
	}
}

// close stops the chainer after a last round.
func (ch *chainer) close() {
	ch.once.Do(func() { close(ch.stop) })
	<-ch.done
}

func (s *Store) runChainer(ch *chainer) {
	defer close(ch.done)
	tick := time.NewTicker(chainSweep)
	defer tick.Stop()
	ctx := context.Background()
	err := s.chainAll(ctx, false) // what an earlier run left pending
	failing := false
	for {
		if err != nil && !failing { // said once a failing spell; the sweep retries
			s.log.Warn("audit chain: a round failed; retrying", "err", err)
		}
		failing = err != nil
		select {
		case <-ch.wake: // a commit of this node left records pending
			err = s.chainAll(ctx, true)
		case <-tick.C:
			err = s.settleAudit(ctx)
		case <-ch.stop:
			if err := s.chainAll(ctx, false); err != nil {
				s.log.Warn("audit chain: pending records left for the next node or start", "err", err)
			}
			return
		}
	}
}

// settleAudit chains every pending record committed before it was
// called (nothing to do on SQLite, or when nothing is pending).
func (s *Store) settleAudit(ctx context.Context) error {
	if s.chain == nil {
		return nil
	}
	return s.chainAll(ctx, false)
}

// anyPending says whether a record waits to be chained.
func (s *Store) anyPending(ctx context.Context) (bool, error) {
	var pending bool
	err := s.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM audit_pending)").Scan(&pending)
	return pending, err
}

// chainAll runs rounds until one finds less than a full round pending;
// poked says that records are known to be pending (see chainRound).
func (s *Store) chainAll(ctx context.Context, poked bool) error {
	for {
		n, err := s.chainRound(ctx, poked)
		if err != nil || n < chainRowsPerRound {
			return err
		}
		poked = true // a full round: more are likely pending
	}
}

// AuditChainRounds counts the chainer's rounds that chained records (0 on
// SQLite).
func (s *Store) AuditChainRounds() int64 {
	if s.chain == nil {
		return 0
	}
	return s.chain.rounds.Load()
}

// chainRound chains up to chainRowsPerRound pending rows in a
// transaction of its own and returns how many it took. The transaction is
// pipelined (inBatchTx): BEGIN goes with the head's lock, the writes with
// the COMMIT.
//
// A round with nothing to chain would still take the audit head for its
// transaction, and the commit batches that find it held then leave their
// records to the next round (chainInline); so a round looks first whether
// anything is pending, unless poked: a commit of this node has just left
// records pending, and the look would be a round trip more on the way of
// their events to the streams (a lock's hand-over on PostgreSQL).
func (s *Store) chainRound(ctx context.Context, poked bool) (int, error) {
	s.chain.round.Lock()
	defer s.chain.round.Unlock()
	if s.chain.held.Load() {
		return 0, nil
	}
	if !poked {
		if pending, err := s.anyPending(ctx); err != nil || !pending {
			return 0, err
		}
	}
	var r chainedRound
	var before <-chan struct{}
	err := s.inBatchTx(ctx, func(b batchTx) error {
		var err error
		if r, err = s.batchOp(ctx, b, nil).chainPending(); err != nil || r.rows == 0 {
			b.rollback()
			return err
		}
		before = s.events.wait() // before the commit: see publishCommitted
		if err := b.commit(ctx); err != nil {
			return fmt.Errorf("audit chain: commit: %w", err)
		}
		return nil
	})
	if err != nil || r.rows == 0 {
		return 0, err
	}
	s.chain.rounds.Add(1)
	s.publishCommitted(before, r.recs) // (other nodes hear the round's pg_notify)
	return r.rows, nil
}

// chainedRound is what chainPending did: the pending rows it took, the
// records it chained from them (seqs given), and the head after them.
type chainedRound struct {
	rows int
	recs []latchkey.AuditRecord
	seq  int64
	head string
}

// chainPending takes the audit head's row lock and chains up to
// chainRowsPerRound committed pending rows onto it. On SQLite nothing is
// ever pending: it returns the head.
func (t *tx) chainPending() (r chainedRound, err error) {
	if r.seq, r.head, err = t.lockAuditHead(); err != nil {
		return chainedRound{}, err
	}
	if t.s.chain == nil {
		return r, nil
	}
	ids, recs, err := t.readPending(chainRowsPerRound)
	if err != nil {
		return chainedRound{}, err
	}
	if len(ids) == 0 {
		return r, nil
	}
	if r.seq, r.head, err = t.extendChain(r.seq, r.head, recs, ids); err != nil {
		return chainedRound{}, err
	}
	r.rows, r.recs = len(ids), recs
	return r, nil
}

// readPending reads up to n committed pending rows in id order: their ids
// and their records. The audit head's row lock must be held.
func (t *tx) readPending(n int) ([]int64, []latchkey.AuditRecord, error) {
	rows, err := t.query("SELECT id, records FROM audit_pending ORDER BY id LIMIT ?", n)
	if err != nil {
		return nil, nil, fmt.Errorf("audit pending: %w", err)
	}
	return scanPending(rows)
}

// extendChain chains recs onto the head (seq, head), inserts them, deletes
// the pending rows ids they came from and moves the head, and returns the
// new head. The audit head's row lock must be held.
func (t *tx) extendChain(seq int64, head string, recs []latchkey.AuditRecord, ids []int64) (int64, string, error) {
	seq, head = chainRecords(seq, head, recs)
	del := "DELETE FROM audit_pending WHERE id = ANY(CAST(? AS BIGINT[]))"
	return seq, head, t.writeAuditBatched(recs, seq, head, del, ids)
}

// scanPending reads pending rows: their ids and their records, in order.
func scanPending(rows rowSet) ([]int64, []latchkey.AuditRecord, error) {
	defer rows.Close()
	var ids []int64
	var recs []latchkey.AuditRecord
	for rows.Next() {
		var id int64
		var raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, nil, err
		}
		var batch []latchkey.AuditRecord
		if err := json.Unmarshal([]byte(raw), &batch); err != nil {
			return nil, nil, fmt.Errorf("audit pending row %d: %w", id, err)
		}
		ids = append(ids, id)
		recs = append(recs, batch...)
	}
	return ids, recs, rows.Err()
}

// chainRecords gives rs the seqs after seq, in order, each chained onto
// the one before and the first onto head, and returns the new head.
func chainRecords(seq int64, head string, rs []latchkey.AuditRecord) (int64, string) {
	for i := range rs {
		r := &rs[i]
		seq++
		r.Seq, r.PrevHash = seq, head
		r.Hash = latchkey.ChainHash(head, *r)
		head = r.Hash
	}
	return seq, head
}

// chainInline chains the transaction's records in the transaction
// itself, after whatever is pending, when nobody holds the audit head:
// then the records are in the log when the batch commits, without a
// round of the chainer (a transaction and an fsync of its own) between
// the commit and the event streams. It takes the head's row lock without
// waiting (SKIP LOCKED) and keeps it until the commit, as a round does; a
// transaction that finds the head held writes its records pending
// instead (queueChain) and does not queue for it. It reports whether it
// chained them.
//
// Why the order still holds (docs/architecture.md, "The audit chain"):
// seqs are given out only under the head's lock, held to the commit,
// so they follow the commits of the transactions that chain. The pending
// rows it chains before its own records are those committed before its
// head read: a batch answered before this one began is among them. A
// pending row that commits after the read overlapped this batch (it was
// not answered when this batch began), so either order is one they
// could have run in. The EXISTS is read in the statement's snapshot,
// taken before the lock: a row it misses committed after the snapshot,
// so it too overlapped; a row it counts that a round chained meanwhile
// is read again, after the lock, by the pending read. When it chained
// them, it returns the records it chained (the pending ones first), their
// seqs given; otherwise none.
func (t *tx) chainInline() ([]latchkey.AuditRecord, error) {
	if t.s.chain.held.Load() {
		return nil, nil
	}
	var seq int64
	var head string
	var pending bool
	err := t.queryRow("SELECT seq, hash, EXISTS (SELECT 1 FROM audit_pending) FROM audit_head WHERE id = 1"+t.s.d.skipLocked()).
		Scan(&seq, &head, &pending)
	switch {
	case errors.Is(err, sql.ErrNoRows): // held by a round or another batch
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("audit head: %w", err)
	}
	recs, ids := t.audit, []int64{}
	if pending {
		var earlier []latchkey.AuditRecord
		if ids, earlier, err = t.readPending(chainRowsPerRound + 1); err != nil {
			return nil, err
		}
		if len(ids) > chainRowsPerRound {
			// More than a round: chaining only some of them before this
			// batch's records could put them ahead of a batch answered
			// earlier. The chainer takes them all, this batch's too.
			return nil, nil
		}
		recs = append(earlier, t.audit...)
	}
	if _, _, err := t.extendChain(seq, head, recs, ids); err != nil {
		return nil, err
	}
	return recs, nil
}

// queueChain writes the transaction's records as one pending row, for the
// chainer.
func (t *tx) queueChain() error {
	b, err := json.Marshal(t.audit)
	if err != nil { // records are built from plain values; this is a bug
		return fmt.Errorf("audit pending: %w", err)
	}
	revoking := false
	for _, r := range t.audit {
		revoking = revoking || revokes(r.Action)
	}
	if err := t.execLater("INSERT INTO audit_pending (records, revokes) VALUES (?, ?)", string(b), revoking); err != nil {
		return fmt.Errorf("audit pending: %w", err)
	}
	return nil
}
