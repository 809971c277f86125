package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--sweep-interval", "0s"},
		{"serve", "--token-ttl", "-1h"},
		{"serve", "--argon2-threads", "300"},
		{"serve", "--argon2-time", "0"},
		{"serve", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}
