package latchkey_test

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"latchkey"
)

// benchPolicy is a policy as big as the server sends: the offline cap of
// 200 verifiers, 20 reservations.
func benchPolicy() latchkey.AgentPolicy {
	p := latchkey.AgentPolicy{Site: latchkey.DefaultSite("branch"), Terminal: "ter_1", Groups: []string{"docker", "wheel"},
		IssuedAt: time.Now().UTC()}
	for i := 0; i < 200; i++ {
		p.Verifiers = append(p.Verifiers, latchkey.CachedVerifier{Login: fmt.Sprintf("user%03d", i), Principal: fmt.Sprintf("prn_%03d", i),
			Role: latchkey.RoleUser, Verifier: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
			ExpiresAt: time.Now().UTC()})
	}
	for i := 0; i < 20; i++ {
		p.Reservations = append(p.Reservations, latchkey.Reservation{ID: fmt.Sprintf("rsv_%d", i), Terminal: "ter_1", Principal: "prn_1",
			Start: time.Now().UTC(), Minutes: 30})
	}
	return p
}

// The server signs every policy it sends (each agent fetches one a
// minute) and every instruction it delivers; the agent verifies them.
func BenchmarkSignPolicy(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(nil)
	p := benchPolicy()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Sign(key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyPolicy(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(nil)
	p := benchPolicy()
	if err := p.Sign(key); err != nil {
		b.Fatal(err)
	}
	doc, _ := json.Marshal(p)
	pub := latchkey.PublicKeyText(key)
	b.ReportAllocs()
	for b.Loop() {
		if err := latchkey.VerifyDocument(pub, latchkey.PolicyDomain, doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignInstruction(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(nil)
	in := latchkey.Instruction{ID: "ins_1", Terminal: "ter_1", Kind: latchkey.InstrCheckout, Login: "ann", Groups: []string{"wheel", "docker"},
		IssuedAt: time.Now().UTC(), EndsAt: time.Now().UTC()}
	b.ReportAllocs()
	for b.Loop() {
		if err := in.Sign(key); err != nil {
			b.Fatal(err)
		}
	}
}
