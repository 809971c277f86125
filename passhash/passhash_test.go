package passhash_test

import (
	"strings"
	"testing"

	"latchkey/passhash"
)

func TestHashVerify(t *testing.T) {
	t.Parallel()
	for _, p := range []passhash.Params{passhash.Test, {Time: 1, MemoryKiB: 256, Threads: 2, KeyLen: 32, SaltLen: 16}} {
		h, err := p.Hash("correct horse")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h, "$argon2id$v=19$") {
			t.Fatalf("hash %q is not PHC argon2id", h)
		}
		if ok, err := passhash.Verify("correct horse", h); err != nil || !ok {
			t.Fatalf("right password: ok=%v err=%v", ok, err)
		}
		if ok, _ := passhash.Verify("correct horsf", h); ok {
			t.Fatal("wrong password verified")
		}
		h2, _ := p.Hash("correct horse")
		if h2 == h {
			t.Fatal("two hashes of one password share a salt")
		}
		if p.NeedsRehash(h) {
			t.Fatal("NeedsRehash on own params")
		}
		if !passhash.Production.NeedsRehash(h) {
			t.Fatal("NeedsRehash missed other params")
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5"} {
		if _, err := passhash.Verify("x", s); err == nil {
			t.Errorf("Verify(%q) accepted a malformed hash", s)
		}
	}
}

func BenchmarkHashProduction(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := passhash.Production.Hash("benchmark password"); err != nil {
			b.Fatal(err)
		}
	}
}
