package latchkey_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"latchkey"
)

// A signed policy verifies under the server's key as sent and after any
// re-encoding that keeps its meaning (key order, spacing); it fails under
// another key, unsigned, with any value changed or any field added, and
// as a document of another kind (domain separation).
func TestSignedDocuments(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	pub, otherPub := latchkey.PublicKeyText(key), latchkey.PublicKeyText(other)
	p := latchkey.AgentPolicy{Site: latchkey.DefaultSite("north"), Terminal: "ter_1", Groups: []string{"wheel"},
		IssuedAt: time.Date(2030, 1, 2, 3, 4, 5, 678, time.UTC), Verifiers: []latchkey.CachedVerifier{{Login: "ann", Verifier: "v<&>"}}}
	if err := p.Sign(key); err != nil {
		t.Fatal(err)
	}
	if p.ServerKey != pub || p.Signature == "" {
		t.Fatalf("signed policy: key %q signature %q", p.ServerKey, p.Signature)
	}
	doc, _ := json.Marshal(p)
	var indented bytes.Buffer
	json.Indent(&indented, doc, "", "  ")
	reordered := []byte(`{"signature":` + string(mustJSON(t, p.Signature)) + `,` + string(doc[1:]))
	reordered = bytes.Replace(reordered, []byte(`,"signature":`+string(mustJSON(t, p.Signature))), nil, 1)

	withRaw := func(b []byte) *latchkey.AgentPolicy { return &latchkey.AgentPolicy{Raw: b} }
	for _, c := range []struct {
		name string
		doc  []byte
		key  string
		want error
	}{
		{"as sent", doc, pub, nil},
		{"indented", indented.Bytes(), pub, nil},
		{"signature first", reordered, pub, nil},
		{"another key", doc, otherPub, latchkey.ErrBadSignature},
		{"a value changed", bytes.Replace(doc, []byte(`"wheel"`), []byte(`"root"`), 1), pub, latchkey.ErrBadSignature},
		{"a field added", bytes.Replace(doc, []byte(`{`), []byte(`{"extra":1,`), 1), pub, latchkey.ErrBadSignature},
		{"unsigned", bytes.Replace(doc, []byte(`"signature":`+string(mustJSON(t, p.Signature))), []byte(`"signature":""`), 1), pub, latchkey.ErrUnsigned},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := withRaw(c.doc).VerifySignature(c.key); !errors.Is(err, c.want) || c.want == nil && err != nil {
				t.Fatalf("verify: %v, want %v", err, c.want)
			}
		})
	}
	// Without Raw, the value's own encoding is checked.
	if err := p.VerifySignature(pub); err != nil {
		t.Fatalf("the signed value itself: %v", err)
	}
	// The same document signed as a policy is no instruction.
	if err := latchkey.VerifyDocument(pub, latchkey.InstructionDomain, doc); !errors.Is(err, latchkey.ErrBadSignature) {
		t.Fatalf("a policy's signature passed for an instruction: %v", err)
	}
	for _, bad := range []string{`[]`, `null`, `{"a":1} {"b":2}`, `{"signature":5}`, `{`} {
		if err := latchkey.VerifyDocument(pub, latchkey.PolicyDomain, []byte(bad)); err == nil {
			t.Errorf("malformed document %s verified", bad)
		}
	}
	if _, err := latchkey.ParsePublicKey("not-a-key"); err == nil {
		t.Error("a malformed key parsed")
	}
}

func TestSignedInstruction(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	pub := latchkey.PublicKeyText(key)
	in := latchkey.Instruction{ID: "ins_1", Terminal: "ter_1", Kind: latchkey.InstrCheckout, Login: "ann", Groups: []string{"wheel"},
		Generation: 3, EndsAt: time.Date(2030, 1, 2, 4, 0, 0, 0, time.UTC), IssuedAt: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC), Attempt: 1}
	if err := in.Sign(key); err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(in)
	for _, c := range []struct {
		name string
		doc  []byte
		ok   bool
	}{
		{"as sent", doc, true},
		{"another terminal", bytes.Replace(doc, []byte(`"ter_1"`), []byte(`"ter_2"`), 1), false},
		{"a later end", bytes.Replace(doc, []byte(`"2030-01-02T04:00:00Z"`), []byte(`"2031-01-02T04:00:00Z"`), 1), false},
		{"another login", bytes.Replace(doc, []byte(`"ann"`), []byte(`"root"`), 1), false},
	} {
		got := (&latchkey.Instruction{Raw: c.doc}).VerifySignature(pub)
		if (got == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, got, c.ok)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// No input makes the verifier panic, and the canonical form is a fixed
// point: canonicalising it again changes nothing.
func FuzzVerifyDocument(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	in := latchkey.Instruction{ID: "ins_1", Terminal: "ter_1", Kind: "checkout", Login: "ann", Groups: []string{"wheel"}}
	if err := in.Sign(key); err != nil {
		f.Fatal(err)
	}
	doc, _ := json.Marshal(in)
	for _, seed := range []string{string(doc), `{}`, `{"signature":"x"}`, `{"a":[1,2.50,{"b":null}]}`, `[]`, `{"a":"\u00e9<>&"}`} {
		f.Add([]byte(seed))
	}
	pub := latchkey.PublicKeyText(key)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = latchkey.VerifyDocument(pub, latchkey.InstructionDomain, b)
		c, _, err := latchkey.CanonicalDocument(b)
		if err != nil {
			return
		}
		again, _, err := latchkey.CanonicalDocument(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("canonical form %s is not a fixed point: %s, %v", c, again, err)
		}
	})
}
