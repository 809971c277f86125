package agent

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey"
)

// syncBuffer is a log destination tests read while the agent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// trustAgent is an agent with a file executor against the fake server,
// whose policy lists wheel and docker for terminal ter_1.
func trustAgent(t *testing.T, f *fakeServer, o TrustOptions) (*Agent, *FileExecutor, *Journal, *syncBuffer) {
	t.Helper()
	f.mu.Lock()
	f.policy.Groups = []string{"docker", "wheel"}
	f.mu.Unlock()
	dir := t.TempDir()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	logs := &syncBuffer{}
	o.Log = slog.New(slog.NewTextHandler(logs, nil))
	if o.Clock == nil {
		o.Clock = f.clock
	}
	tr, err := OpenTrust(bg, j, o)
	if err != nil {
		t.Fatal(err)
	}
	ex := &FileExecutor{Path: filepath.Join(dir, "groups")}
	return &Agent{Client: f.client(), Journal: j, Executor: ex, Log: o.Log, Trust: tr, Clock: f.clock}, ex, j, logs
}

// wire is an instruction as the agent receives it: signed with key (nil:
// unsigned), encoded, with its document kept.
func wire(t *testing.T, in latchkey.Instruction, key ed25519.PrivateKey) latchkey.Instruction {
	t.Helper()
	if key != nil {
		if err := in.Sign(key); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out latchkey.Instruction
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	out.Raw = raw
	return out
}

// Every refusal: the instruction is answered "error", nothing is
// executed, the log says why; a refusal of the server's own (signed)
// instruction is journalled, one of an instruction that may not be the
// server's is not. A grant beyond --max-minutes is clipped, and the reply
// says so.
func TestAgentRefusesWhatItMayNotTrust(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	_, stranger, _ := ed25519.GenerateKey(nil)
	now := fc.Real()
	grant := func(id, login string, groups ...string) latchkey.Instruction {
		return latchkey.Instruction{ID: id, Terminal: "ter_1", Kind: latchkey.InstrCheckout, Login: login, Groups: groups,
			Generation: 1, EndsAt: now.Add(time.Hour), IssuedAt: now, Attempt: 1}
	}
	tampered := wire(t, grant("ins_tamper", "ann", "wheel"), f.key)
	tampered.Raw = bytes.Replace(tampered.Raw, []byte(`"ann"`), []byte(`"root"`), 1)
	tampered.Login = "root"
	elsewhere := grant("ins_other_term", "ann", "wheel")
	elsewhere.Terminal = "ter_2"
	oddKind := grant("ins_kind", "ann", "wheel")
	oddKind.Kind = "shell"
	for _, c := range []struct {
		name      string
		in        latchkey.Instruction
		journaled bool
		reason    string
	}{
		{"unsigned", wire(t, grant("ins_unsigned", "ann", "wheel"), nil), false, "not signed"},
		{"signed by another key", wire(t, grant("ins_stranger", "ann", "wheel"), stranger), false, "does not verify"},
		{"tampered after signing", tampered, false, "does not verify"},
		{"for another terminal", wire(t, elsewhere, f.key), false, `terminal "ter_2"`},
		{"a login like an option", wire(t, grant("ins_dash", "-oroot", "wheel"), f.key), true, "login"},
		{"a login with a path", wire(t, grant("ins_path", "../../etc/x", "wheel"), f.key), true, "login"},
		{"a login with a space", wire(t, grant("ins_space", "ann root", "wheel"), f.key), true, "login"},
		{"a group name like an option", wire(t, grant("ins_gdash", "ann", "-r"), f.key), true, "group"},
		{"a group name with a newline", wire(t, grant("ins_gnl", "ann", "wheel\nroot"), f.key), true, "group"},
		{"a group no group set allows here", wire(t, grant("ins_root", "ann", "wheel", "root"), f.key), true, "group root is not in a group set"},
		{"an unknown kind", wire(t, oddKind, f.key), true, "kind"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, ex, j, logs := trustAgent(t, f, TrustOptions{})
			if err := a.Handle(bg, c.in); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			got := f.replies[c.in.ID]
			f.mu.Unlock()
			if len(got) != 1 || got[0].Result != "error" || !strings.Contains(got[0].Detail, c.reason) {
				t.Fatalf("replies %+v; want one error saying %q", got, c.reason)
			}
			if m, _ := ex.Members(); len(m) != 0 {
				t.Fatalf("a refused instruction changed memberships: %v", m)
			}
			if e, _ := j.Lookup(bg, c.in.ID); (e != nil) != c.journaled {
				t.Fatalf("journalled %+v, want journalled=%v", e, c.journaled)
			}
			if !strings.Contains(logs.String(), "instruction refused") {
				t.Fatalf("no log line says the instruction was refused:\n%s", logs)
			}
		})
	}

	t.Run("a group --allow-group leaves out", func(t *testing.T) {
		a, ex, _, logs := trustAgent(t, f, TrustOptions{AllowGroups: []string{"docker"}})
		in := wire(t, grant("ins_narrow", "ann", "docker", "wheel"), f.key)
		if err := a.Handle(bg, in); err != nil {
			t.Fatal(err)
		}
		if got := f.replies[in.ID]; len(got) != 1 || got[0].Result != "error" || !strings.Contains(got[0].Detail, "--allow-group") {
			t.Fatalf("replies %+v", got)
		}
		if m, _ := ex.Members(); len(m) != 0 || !strings.Contains(logs.String(), "instruction refused") {
			t.Fatalf("members %v; logs:\n%s", m, logs)
		}
		ok := wire(t, grant("ins_docker", "ann", "docker"), f.key)
		if err := a.Handle(bg, ok); err != nil {
			t.Fatal(err)
		}
		if m, _ := ex.Members(); strings.Join(m, ",") != "docker ann" {
			t.Fatalf("an allowed group was not granted: %v", m)
		}
	})

	t.Run("over --max-minutes: clipped", func(t *testing.T) {
		a, ex, j, _ := trustAgent(t, f, TrustOptions{MaxMinutes: 30})
		in := wire(t, grant("ins_long", "ann", "wheel"), f.key)
		if err := a.Handle(bg, in); err != nil {
			t.Fatal(err)
		}
		if got := f.replies[in.ID]; len(got) != 1 || got[0].Result != "ok" || !strings.Contains(got[0].Detail, "capped at 30 minutes") {
			t.Fatalf("replies %+v; want ok saying it was capped", got)
		}
		m, _ := j.Memberships(bg)
		if end := m[latchkey.MemberKey{Group: "wheel", Login: "ann"}].EndsAt; !end.Equal(now.Add(30 * time.Minute)) {
			t.Fatalf("the membership ends %s, want %s", end, now.Add(30*time.Minute))
		}
		fc.Advance(31 * time.Minute)
		defer fc.Advance(-31 * time.Minute)
		if err := a.ExpireNow(bg); err != nil {
			t.Fatal(err)
		}
		if got, _ := ex.Members(); len(got) != 0 {
			t.Fatalf("after 31 minutes the clipped membership is still there: %v", got)
		}
	})

	t.Run("a removal needs no allowed group", func(t *testing.T) {
		a, ex, _, _ := trustAgent(t, f, TrustOptions{})
		if err := a.Handle(bg, wire(t, grant("ins_add", "ann", "wheel"), f.key)); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.policy.Groups = []string{"docker"} // the set was withdrawn from this site
		f.mu.Unlock()
		defer func() { f.mu.Lock(); f.policy.Groups = []string{"docker", "wheel"}; f.mu.Unlock() }()
		a.Trust.AcceptPolicy(bg, mustPolicy(t, f))
		rm := grant("ins_rm", "ann", "wheel")
		rm.Kind, rm.EndsAt = latchkey.InstrCheckin, time.Time{}
		if err := a.Handle(bg, wire(t, rm, f.key)); err != nil {
			t.Fatal(err)
		}
		if m, _ := ex.Members(); len(m) != 0 || f.replies["ins_rm"][0].Result != "ok" {
			t.Fatalf("members %v, reply %+v", m, f.replies["ins_rm"])
		}
	})
}

// mustPolicy fetches the fake server's policy as the agent would.
func mustPolicy(t *testing.T, f *fakeServer) *latchkey.AgentPolicy {
	t.Helper()
	p, err := f.client().AgentPolicy(bg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// With no key given, the first key is pinned (and kept across a restart);
// a policy or an instruction under another key is then refused, and the
// policy in force stays. A key given with --server-key is the only one
// accepted from the start, and an unsigned policy never is.
func TestServerKeyPinning(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	f.addPerson("alice", "pri_a", "pw-a", latchkey.RoleUser, true)
	dir := t.TempDir()
	g, j := testGateway(t, f, dir)
	if err := g.Sync(bg); err != nil {
		t.Fatal(err)
	}
	pub := latchkey.PublicKeyText(f.key)
	if g.o.Trust.Key() != pub {
		t.Fatalf("pinned %q, want the server's %q", g.o.Trust.Key(), pub)
	}
	j.Close()
	g, j = testGateway(t, f, dir) // a restart keeps the pin
	if g.o.Trust.Key() != pub {
		t.Fatalf("after a restart pinned %q", g.o.Trust.Key())
	}

	// The server (or someone in its place) now signs with another key.
	original := f.key
	_, f.key, _ = ed25519.GenerateKey(nil)
	f.site(func(s *latchkey.Site) { s.AllowStandalone = false })
	if err := g.Sync(bg); err == nil || !strings.Contains(err.Error(), "policy refused") {
		t.Fatalf("a policy under another key: %v", err)
	}
	if !g.cachedPolicy().AllowStandalone {
		t.Fatal("a policy under another key was cached")
	}
	a := &Agent{Client: f.client(), Journal: j, Executor: &FileExecutor{Path: filepath.Join(dir, "groups")},
		Trust: g.o.Trust, Now: fc.Real, Log: g.log}
	in := wire(t, latchkey.Instruction{ID: "ins_new_key", Terminal: "ter_1", Kind: latchkey.InstrCheckout, Login: "alice",
		Groups: []string{"wheel"}, Generation: 1, EndsAt: fc.Real().Add(time.Hour)}, f.key)
	f.policy.Groups = []string{"wheel"}
	if err := a.Handle(bg, in); err != nil {
		t.Fatal(err)
	}
	if r := f.replies[in.ID]; len(r) != 1 || r[0].Result != "error" {
		t.Fatalf("an instruction under another key: replies %+v", r)
	}
	if m, _ := a.Executor.(*FileExecutor).Members(); len(m) != 0 {
		t.Fatalf("executed: %v", m)
	}

	// Given with --server-key, only that key counts, from the first policy.
	f.key = original
	j2, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	_, other, _ := ed25519.GenerateKey(nil)
	tr, err := OpenTrust(bg, j2, TrustOptions{ServerKey: latchkey.PublicKeyText(other)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.AcceptPolicy(bg, mustPolicy(t, f)); err == nil {
		t.Fatal("a policy under a key other than --server-key was accepted")
	}
	tr, err = OpenTrust(bg, j2, TrustOptions{ServerKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.AcceptPolicy(bg, mustPolicy(t, f)); err != nil || tr.Terminal() != "ter_1" {
		t.Fatalf("the policy under --server-key: %v", err)
	}
	f.mu.Lock()
	f.unsigned = true
	f.mu.Unlock()
	if err := tr.AcceptPolicy(bg, mustPolicy(t, f)); err == nil {
		t.Fatal("an unsigned policy was accepted")
	}
	j3, _ := OpenJournal(t.TempDir())
	defer j3.Close()
	fresh, _ := OpenTrust(bg, j3, TrustOptions{})
	if err := fresh.AcceptPolicy(bg, mustPolicy(t, f)); err == nil || fresh.Key() != "" {
		t.Fatalf("an unsigned policy pinned a key on first use: %v, %q", err, fresh.Key())
	}
	if _, err := OpenTrust(bg, j3, TrustOptions{ServerKey: "nonsense"}); err == nil {
		t.Fatal("a malformed --server-key was taken")
	}
	if _, err := OpenTrust(bg, j3, TrustOptions{AllowGroups: []string{"-x"}}); err == nil {
		t.Fatal("a malformed --allow-group was taken")
	}
}

// A group set made after the agent's last policy: the agent fetches a
// fresh policy before it decides, and grants the group.
func TestAgentRefreshesThePolicyForANewGroup(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	a, ex, _, _ := trustAgent(t, f, TrustOptions{})
	first := wire(t, latchkey.Instruction{ID: "ins_1", Terminal: "ter_1", Kind: latchkey.InstrCheckout, Login: "ann",
		Groups: []string{"wheel"}, Generation: 1, EndsAt: fc.Real().Add(time.Hour)}, f.key)
	if err := a.Handle(bg, first); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.policy.Groups = append(f.policy.Groups, "backup")
	calls := f.policyCalls
	f.mu.Unlock()
	fc.Advance(policyRefreshGap)
	in := wire(t, latchkey.Instruction{ID: "ins_2", Terminal: "ter_1", Kind: latchkey.InstrCheckout, Login: "ann",
		Groups: []string{"backup"}, Generation: 2, EndsAt: fc.Real().Add(time.Hour)}, f.key)
	if err := a.Handle(bg, in); err != nil {
		t.Fatal(err)
	}
	if m, _ := ex.Members(); strings.Join(m, ",") != "backup ann,wheel ann" || f.policyCalls != calls+1 {
		t.Fatalf("members %v after %d policy fetches", m, f.policyCalls-calls)
	}
}

// A membership with a name no agent may hand to a tool (journalled before
// names were checked) is never given to the executor when it expires, and
// does not keep the others from expiring.
func TestExpiryNeverHandsOnAnInvalidName(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	a, ex, j, logs := trustAgent(t, f, TrustOptions{})
	now := fc.Real()
	if _, err := ex.Apply(latchkey.Change{Add: true, Group: "wheel", Login: "ann"}, "old"); err != nil {
		t.Fatal(err)
	}
	m := map[latchkey.MemberKey]latchkey.Membership{
		{Group: "wheel", Login: "-oroot"}: {Generation: 1, EndsAt: now.Add(time.Minute)},
		{Group: "wheel", Login: "ann"}:    {Generation: 1, EndsAt: now.Add(time.Minute)},
	}
	if err := j.Record(bg, "", "", Executed{}, m, now); err != nil {
		t.Fatal(err)
	}
	fc.Advance(2 * time.Minute)
	defer fc.Advance(-2 * time.Minute)
	if err := a.ExpireNow(bg); err != nil {
		t.Fatal(err)
	}
	if got, _ := ex.Members(); len(got) != 0 {
		t.Fatalf("the valid membership did not expire: %v", got)
	}
	if log, _ := os.ReadFile(ex.Path + ".log"); strings.Contains(string(log), "-oroot") {
		t.Fatalf("the invalid name reached the executor:\n%s", log)
	}
	if !strings.Contains(logs.String(), "invalid name") {
		t.Fatalf("no log line:\n%s", logs)
	}
	if err := a.ExpireNow(bg); err != nil {
		t.Fatal(err)
	}
}

// A genuine but old policy (replayed by someone on the network, say with
// a group set's groups before they changed) is refused once a newer one
// was accepted; a slightly older one (another node's clock) is not.
func TestOldPolicyIsRefusedAsAReplay(t *testing.T) {
	fc := newFakeClock()
	f := newFakeServer(t, fc)
	j, err := OpenJournal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	tr, err := OpenTrust(bg, j, TrustOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := mustPolicy(t, f)
	fc.Advance(time.Hour)
	if err := tr.AcceptPolicy(bg, mustPolicy(t, f)); err != nil {
		t.Fatal(err)
	}
	if err := tr.AcceptPolicy(bg, old); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Fatalf("an hour-old policy after a newer one: %v", err)
	}
	fc.Advance(-time.Minute)
	if err := tr.AcceptPolicy(bg, mustPolicy(t, f)); err != nil {
		t.Fatalf("a policy a minute older (another node's clock): %v", err)
	}
}
