package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestLoggerRedacts: whatever logs through the server's logger (a
// message, a string, an error, a group, attributes added with With, the
// HTTP server's log.Logger) has store passwords masked.
func TestLoggerRedacts(t *testing.T) {
	const secret = "Sup3r-s3cret"
	for _, format := range []string{"text", "json"} {
		t.Setenv("LOG_FORMAT", format)
		t.Setenv("LOG_LEVEL", "debug")
		var buf bytes.Buffer
		logger, err := newLogger(&buf)
		if err != nil {
			t.Fatal(err)
		}
		pgErr := fmt.Errorf("listen: %w", errors.New("cannot parse postgres://lk:"+secret+"@db:x/lk"))
		logger.Info("connecting to postgres://lk:"+secret+"@db/lk", "store", "postgres://db/lk?password="+secret, "err", pgErr,
			slog.Group("g", "dsn", "host=db password="+secret))
		logger.With("store", "postgres://lk:"+secret+"@db/lk").WithGroup("w").Warn("x", "n", 1)
		slog.NewLogLogger(logger.Handler(), slog.LevelWarn).Printf("http: postgres://lk:%s@db/lk", secret)
		out := buf.String()
		if strings.Contains(out, secret) {
			t.Errorf("%s log holds the password:\n%s", format, out)
		}
		if n := strings.Count(out, "xxxxx"); n != 6 {
			t.Errorf("%s log: %d masks, want 6:\n%s", format, n, out)
		}
		if !strings.Contains(out, `w.n=1`) && !strings.Contains(out, `"w":{"n":1}`) {
			t.Errorf("%s log lost something:\n%s", format, out)
		}
	}
}
