package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"latchkey"
	"latchkey/strictjson"
)

// The gateway's HTTP interface, served on a unix socket:
//
//	POST /login  {identity, password, force}      → 200 Status
//	POST /lock   {reason, choice}                 → 200 Status
//	POST /unlock {identity, password, force}      → 200 Status
//	POST /logout                                  → 200 Status
//	POST /touch                                   → 200 Status (activity)
//	GET  /status                                  → 200 Status
//
// Errors have the API's shape and statuses (API.md "Conventions"); online,
// the server's refusals pass through as they are.

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in LoginRequest
		if g.decode(w, r, &in) {
			g.answer(w, r)(g.Login(r.Context(), in))
		}
	})
	mux.HandleFunc("POST /lock", func(w http.ResponseWriter, r *http.Request) {
		var in LockRequest
		if g.decode(w, r, &in) {
			g.answer(w, r)(g.Lock(r.Context(), in))
		}
	})
	mux.HandleFunc("POST /unlock", func(w http.ResponseWriter, r *http.Request) {
		var in UnlockRequest
		if g.decode(w, r, &in) {
			g.answer(w, r)(g.Unlock(r.Context(), in))
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		g.answer(w, r)(g.Logout(r.Context()))
	})
	mux.HandleFunc("POST /touch", func(w http.ResponseWriter, r *http.Request) {
		g.answer(w, r)(g.Touch(r.Context()))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		g.answer(w, r)(g.Status(r.Context()), nil)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		g.writeError(w, latchkey.Errorf(latchkey.ENOTFOUND, "no such call: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// decode reads a JSON request body (an empty one is {}) strictly: no
// unknown field, no key twice, no key in another case than its field's
// (encoding/json alone takes the last of two "password" keys, and
// "Password" for "password"), exactly one value. On bad input it answers
// bad_request naming the field and returns false.
func (g *Gateway) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		g.writeError(w, latchkey.BadField("body", "cannot read the request body"))
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return true
	}
	if p := strictjson.Check(b, reflect.TypeOf(v)); p != nil {
		g.writeError(w, latchkey.BadField(p.Field, "%s", p.Message()).With("reason", p.Reason))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		field := "body"
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if n, uerr := strconv.Unquote(name); uerr == nil && n != "" {
				field = n
			}
		}
		g.writeError(w, latchkey.BadField(field, "malformed JSON: %v", err))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		g.writeError(w, latchkey.BadField("body", "the request body must be exactly one JSON value"))
		return false
	}
	return true
}

// answer writes a call's status or its error.
func (g *Gateway) answer(w http.ResponseWriter, r *http.Request) func(Status, error) {
	return func(st Status, err error) {
		if err != nil {
			g.writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	}
}

// writeError answers err in the API's error shape and status
// (latchkey.WireError); an uncoded error is logged here and answered as
// internal.
func (g *Gateway) writeError(w http.ResponseWriter, err error) {
	status, body, ok := latchkey.WireError(err)
	if !ok {
		g.log.Error("gateway call", "err", err)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// ListenSocket listens on a unix socket at path (mode 0660), replacing a
// stale socket left by an earlier run.
func ListenSocket(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("socket %s: another agent is listening there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// Serve serves the gateway on ln until ctx ends, then shuts down (calls
// in progress get a few seconds to finish) and closes ln. Its clients are
// bounded by the Socket limits: a slow or idle one is cut off, and one
// beyond the connection cap is answered 429.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := g.o.Socket.Server(g.Handler(), slog.NewLogLogger(g.log.Handler(), slog.LevelWarn))
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
