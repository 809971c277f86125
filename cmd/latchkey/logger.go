package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// newLogger returns the server's logger: text (or JSON with
// LOG_FORMAT=json) on w, at the level in LOG_LEVEL (default info), with
// passwords in store URLs masked (logredact.go).
func newLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(os.Getenv("LOG_LEVEL")) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", os.Getenv("LOG_LEVEL"))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(os.Getenv("LOG_FORMAT")) {
	case "", "text":
		return slog.New(redactHandler{slog.NewTextHandler(w, opts)}), nil
	case "json":
		return slog.New(redactHandler{slog.NewJSONHandler(w, opts)}), nil
	}
	return nil, fmt.Errorf("LOG_FORMAT %q: want text or json", os.Getenv("LOG_FORMAT"))
}

// lockedWriter serialises writes from the logger and the server's own
// messages.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
