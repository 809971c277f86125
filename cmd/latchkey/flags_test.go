package main

import (
	"flag"
	"testing"
	"time"
)

func TestFlagSynopsis(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Bool("quiet", false, "say less")
	fs.Duration("wait", time.Second, "how long")
	fs.Int("count", 1, "how many")
	fs.Uint("memory", 1, "memory in `KiB`")
	fs.String("name", "", "a name")
	fs.String("dir", "", "put it in `DIR`")
	fs.Func("tag", "`K=V` to add (repeatable)", func(string) error { return nil })
	fs.Func("mode", "a mode", func(string) error { return nil })
	want := "[--count N] [--dir DIR] [--memory KiB] [--mode VALUE] [--name VALUE] [--quiet] [--tag K=V]... [--wait D]"
	if got := flagSynopsis(fs); got != want {
		t.Errorf("flagSynopsis\n got %s\nwant %s", got, want)
	}
}
