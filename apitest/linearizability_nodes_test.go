package apitest_test

// Issue 15's proof item: three `latchkey serve` nodes on one PostgreSQL
// schema, one of them SIGKILLed every ~2 s (round robin) during the lock
// workload of linearizability_test.go and restarted on the same store.
// The history must be linearizable (calls in flight at a kill may or may
// not have happened), and the audit chain whole: it verifies from the
// genesis to the head, and it records every grant the history saw, each
// lock's tokens 1, 2, 3, ... with none lost and none twice.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	"latchkey/sqlstore/sqlstoretest"
)

const (
	linNodes     = 3
	linKillEvery = 2 * time.Second // from one kill to the next
	linMinKills  = 3
	// linNodeCalls is the run's length: long enough for several kills at
	// linKillEvery (a run of linOps calls on one node takes about 4 s); a
	// machine that gets through them before linMinKills kills gets linOps
	// more at a time.
	linNodeCalls = 4 * linOps
)

// linKill is one kill of a node during the run.
type linKill struct {
	node            int
	at              time.Duration // since the run's start
	inFlightOnNode  int           // calls of the node's clients in flight at the kill
	inFlight        int64         // all calls in flight at the kill
	restart         time.Duration // from the kill to the new process listening
	unknown         int64         // calls left without an answer by this kill
	killed, started string        // the processes' names
}

// TestLockLinearizableAcrossNodeKills records a history of concurrent
// lock calls from linClients clients spread over three `latchkey serve`
// processes on one PostgreSQL schema (client i on node i%3, each with its
// own user token, which every node accepts), while one node after the
// other is SIGKILLed and restarted on the same store; its clients move to
// the new process. Then it checks the history and the audit chain, through
// the API of a node. PostgreSQL only.
func TestLockLinearizableAcrossNodeKills(t *testing.T) {
	t.Parallel()
	latchkeyBinary(t) // skips in -short mode before any set-up
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	storeURL := sqlstoretest.PostgresSchemaURL(t)
	dirs := make([]string, linNodes)
	nodes := make([]*proc, linNodes)
	for k := range nodes {
		dirs[k] = t.TempDir()
		nodes[k] = startServer(t, storeURL, dirs[k])
	}
	admin := nodes[0].adminLogin(t)
	r := newLinRun(t, "postgres")
	r.calls = linNodeCalls
	tokens := make([]string, linClients)
	byClient := make([]string, linClients) // principal IDs
	for i := range tokens {
		byClient[i], tokens[i] = linDelegate(ctx, t, admin, nodes[i%linNodes].client(""), i)
		r.principals[byClient[i]] = i
	}
	// clientsOn gives the clients of node k (only theirs) on process p.
	clientsOn := func(k int, p *proc) []*client.Client {
		cs := make([]*client.Client, linClients)
		for i, tok := range tokens {
			if i%linNodes == k {
				cs[i] = p.client(tok)
			}
		}
		return cs
	}
	of := func(k int) (cs []int) {
		for i := k; i < linClients; i += linNodes {
			cs = append(cs, i)
		}
		return cs
	}
	inFlightOn := func(k int) (n int) {
		for _, i := range of(k) {
			if r.calling[i].Load() {
				n++
			}
		}
		return n
	}
	all := make([]*client.Client, linClients)
	for i, tok := range tokens {
		all[i] = nodes[i%linNodes].client(tok)
	}
	r.servers.replace(all)

	var kills []linKill
	r.run(ctx, func() {
		next := time.Now().Add(linKillEvery)
		for r.budget.Load() > 0 && !r.failed.Load() && ctx.Err() == nil {
			if b := r.budget.Load(); len(kills) < linMinKills && b > 0 && b < linOps {
				r.budget.Add(linOps)
			}
			if time.Now().Before(next) {
				time.Sleep(time.Millisecond)
				continue
			}
			k := len(kills) % linNodes
			// Kill while a call of the node's clients is in flight (there
			// nearly always is one).
			for deadline := time.Now().Add(200 * time.Millisecond); inFlightOn(k) == 0 && time.Now().Before(deadline); {
				time.Sleep(50 * time.Microsecond)
			}
			kl := linKill{node: k, inFlightOnNode: inFlightOn(k), inFlight: r.inFlight.Load(), killed: nodes[k].name}
			unknown := r.unknown.Load()
			r.servers.kill(of(k)...)
			nodes[k].kill()
			kl.at = time.Duration(r.now())
			killed := time.Now()
			next = killed.Add(linKillEvery)
			q := startServer(t, storeURL, dirs[k])
			kl.restart, kl.started = time.Since(killed), q.name
			r.servers.replace(clientsOn(k, q))
			nodes[k] = q
			// The calls the kill left without an answer got their
			// connection reset at once, long before the restart.
			kl.unknown = r.unknown.Load() - unknown
			kills = append(kills, kl)
		}
	})
	if t.Failed() {
		return
	}
	// Every record committed, the last kill's too, is chained within a
	// second, before anyone reads the log (which would chain it itself).
	ended := time.Now()
	raw := sqlstoretest.RawDB(t, sqlstoretest.Backend{Name: "postgres"}, storeURL)
	for {
		var pending int
		if err := raw.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_pending").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Since(ended) > time.Second {
			t.Fatalf("%d batches of audit records still not chained a second after the run", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var log []string
	for n, kl := range kills {
		log = append(log, fmt.Sprintf("  kill %d at %v: node %d (%s), %d of its calls in flight (%d in all), %d left without an answer; %s listening %v after the kill",
			n+1, kl.at.Round(time.Millisecond), kl.node+1, kl.killed, kl.inFlightOnNode, kl.inFlight, kl.unknown, kl.started, kl.restart.Round(time.Millisecond)))
	}
	t.Logf("%d nodes, %d clients, %d kills, %d calls without an answer:\n%s", linNodes, linClients, len(kills), r.unknown.Load(), strings.Join(log, "\n"))
	if len(kills) < linMinKills {
		t.Errorf("%d kills during the run, want at least %d: the test proves less than it should", len(kills), linMinKills)
	}
	if r.unknown.Load() == 0 {
		t.Errorf("no call was in flight at any kill: the test proves less than it should")
	}
	ops := checkLinearizable(t, r)
	assertRejectsDoctored(t, ops)

	// The audit chain, through the API of the node killed longest ago
	// (every node is up again by now).
	k := len(kills) % linNodes
	a := nodes[k].client(admin.Token())
	v, err := a.VerifyAudit(ctx)
	if err != nil {
		t.Fatalf("audit verify on node %d (%s): %v", k+1, nodes[k].name, err)
	}
	if !v.OK {
		t.Fatalf("audit verify on node %d (%s): the chain is broken at seq %d (%s) after %d good records",
			k+1, nodes[k].name, v.FirstBadSeq, v.Reason, v.Records)
	}
	// The same chain checked here, on the client, from the export of
	// another node against the head it signs.
	o := (k + 1) % linNodes
	cv, err := nodes[o].client(admin.Token()).VerifyAuditAgainst(ctx, client.AuditCheck{})
	if err != nil {
		t.Fatalf("audit check on the client, from node %d (%s): %v", o+1, nodes[o].name, err)
	}
	if !cv.OK || cv.Records < v.Records {
		t.Fatalf("audit check on the client, from node %d (%s): %+v; the server's verify: %+v", o+1, nodes[o].name, cv, v)
	}

	// The chain against the history: each lock's new grants (acquire,
	// force, grant to the first waiter) carry the tokens 1, 2, 3, ... in
	// chain order, and every exclusive answer in the history is one of
	// them, to its client.
	type grantKey struct {
		lock  string
		token uint64
	}
	grants := map[grantKey]string{} // -> principal
	fence := map[string]uint64{}
	lockRecords := 0
	err = a.ExportAudit(ctx, 0, func(l latchkey.AuditLine) error {
		if !strings.HasPrefix(l.Target, "lin/") {
			return nil
		}
		lockRecords++
		switch l.Action {
		case latchkey.ActionLockAcquire, latchkey.ActionLockForce, latchkey.ActionLockGrant:
		default:
			return nil
		}
		var d struct {
			Principal string `json:"principal"`
			Token     uint64 `json:"token"`
			Again     bool   `json:"again"`
		}
		if err := json.Unmarshal([]byte(l.Details), &d); err != nil {
			return fmt.Errorf("seq %d: details %s: %v", l.Seq, l.Details, err)
		}
		if d.Again {
			if g := grants[grantKey{l.Target, d.Token}]; g != d.Principal {
				return fmt.Errorf("seq %d: %s renews token %d of %s, granted to %q", l.Seq, d.Principal, d.Token, l.Target, g)
			}
			return nil
		}
		if d.Token != fence[l.Target]+1 {
			return fmt.Errorf("seq %d: %s grants token %d of %s after token %d", l.Seq, l.Action, d.Token, l.Target, fence[l.Target])
		}
		fence[l.Target] = d.Token
		grants[grantKey{l.Target, d.Token}] = d.Principal
		return nil
	})
	if err != nil {
		t.Fatalf("the audit's lock records: %v", err)
	}
	answered := 0
	for _, op := range ops {
		in, out := op.Input.(lockInput), op.Output.(lockOutput)
		if out.Unknown || !out.Exclusive {
			continue
		}
		answered++
		if g, ok := grants[grantKey{in.Lock, out.Token}]; !ok || g != byClient[in.Client] {
			t.Errorf("client %d was granted token %d of %s; the audit records it granted to %q", in.Client, out.Token, in.Lock, g)
		}
	}
	t.Logf("audit chain whole: %d records verified on node %d (%s), %d on the client from node %d's export (%s); "+
		"%d lock records, %d grants (tokens %v), all %d exclusive answers of the history among them",
		v.Records, k+1, nodes[k].name, cv.Records, o+1, nodes[o].name, lockRecords, len(grants), fence, answered)
}
