package bench_test

import (
	"context"
	"testing"
	"time"

	"latchkey/bench"
	"latchkey/passhash"
)

func TestRawHashRate(t *testing.T) {
	t.Parallel()
	start := time.Now()
	rate, n, err := bench.RawHashRate(context.Background(), passhash.Test, 100*time.Millisecond, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 || rate <= 0 {
		t.Fatalf("rate %v from %d hashes", rate, n)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("a 100ms measurement took %s", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := bench.RawHashRate(ctx, passhash.Test, time.Hour, 2); err == nil {
		t.Fatal("a cancelled measurement reported a rate")
	}
	if _, _, err := bench.RawHashRate(context.Background(), passhash.Params{}, time.Second, 1); err == nil {
		t.Fatal("invalid parameters accepted")
	}
}
