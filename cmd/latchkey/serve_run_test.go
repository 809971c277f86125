package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunServerStartupErrors: a failure before serving is returned, not
// printed, and is no reportedError.
func TestRunServerStartupErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", filepath.Join(dir, "none.pem"), "--tls-key", filepath.Join(dir, "none.key")}, "tls: certificate "},
		{[]string{"--store", "mysql://u:Sup3r-s3cret@h/db"}, `open store: store URL "mysql://u:xxxxx@h/db"`},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg, err := parseServeFlags(fs, append([]string{"--data-dir", filepath.Join(dir, "data")}, tt.args...), func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		err = runServer(context.Background(), cfg, slog.New(slog.NewTextHandler(&stderr, nil)), &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) || errors.As(err, new(reportedError)) || stderr.Len() != 0 {
			t.Errorf("%v: error %v, stderr %q; want an error with %q and nothing printed", tt.args, err, stderr.String(), tt.want)
		}
	}
}
