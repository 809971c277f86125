package latchkey_test

import (
	"testing"

	"latchkey"
)

func TestPageNormalize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want int }{
		{-1, latchkey.DefaultPageLimit}, {0, latchkey.DefaultPageLimit}, {1, 1}, {50, 50},
		{latchkey.MaxPageLimit, latchkey.MaxPageLimit}, {latchkey.MaxPageLimit + 1, latchkey.MaxPageLimit}, {1 << 30, latchkey.MaxPageLimit},
	} {
		got := latchkey.Page{Limit: c.in, After: "cur"}.Normalize()
		if got.Limit != c.want || got.After != "cur" {
			t.Errorf("Normalize(%d) = %+v, want limit %d and After kept", c.in, got, c.want)
		}
	}
}
