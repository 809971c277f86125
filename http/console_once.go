package http

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"slices"
	"strings"

	"latchkey"
)

// consoleOnce applies a keyed form once (the form's idem field, through
// the same idempotency records as the API's Idempotency-Key): the
// change (made with changeCtx) and the mark that it was applied commit
// together; the same
// form sent again (a retry after its node died, a second press) changes
// nothing and is shown how things stand now. The key is scoped to the
// person and the page, and bound to what the form said.
func (s *Server) consoleOnce(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, key string,
	h func(nethttp.ResponseWriter, *nethttp.Request, consoleSession)) {
	if len(key) > maxIdempotencyKey || !printableASCII(key) {
		s.render(w, r, nethttp.StatusBadRequest, "error.html", consoleView{Session: &ss, Error: "This form is damaged: reload the page and try again."})
		return
	}
	fields := map[string][]string{}
	for k, v := range r.PostForm {
		if k != "csrf" && k != "idem" {
			fields[k] = slices.Clone(v)
		}
	}
	raw, _ := json.Marshal(fields) // strings only: cannot fail
	request, _ := blankedRequest(raw)
	scope := ss.caller.Actor() + " console " + r.Method + " " + r.URL.EscapedPath()
	stored, err := s.store.BeginIdempotent(r.Context(), scope, key, request)
	if err != nil {
		s.renderError(w, r, ss, err)
		return
	}
	if stored != nil {
		back := r.PostFormValue("back") // the page that shows the form's result
		if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "?#\\") {
			back = r.URL.Path
		}
		nethttp.Redirect(w, r, back+"?sent=again", nethttp.StatusSeeOther)
		return
	}
	rec := &bufferedWriter{ResponseWriter: w}
	ctx := context.WithoutCancel(r.Context())
	finished := false
	defer func() {
		if !finished {
			s.abandon(ctx, r, scope, key) // h panicked: free the key
		}
	}()
	ss.claim = &latchkey.IdempotencyClaim{Scope: scope, Key: key}
	h(rec, r, ss)
	finished = true
	status := rec.statusCode()
	// Refused or failed (status 400 and up): nothing was applied, a
	// retry runs again. A replay shows the page anew: no answer is kept.
	s.settleKey(ctx, r, scope, key, status < 400, latchkey.StoredResponse{Status: status})
	w.WriteHeader(status)
	_, _ = w.Write(rec.buf.Bytes())
}

// printableASCII says whether s is 1 or more printable ASCII characters
// (an idempotency key's alphabet).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// changeCtx is the context of the one store call that makes the form's
// change: with a keyed form's claim, so that the change and the mark
// that it was applied commit together. The page's other calls (asking
// for the lock, listing) go without it.
func (ss consoleSession) changeCtx(r *nethttp.Request) context.Context {
	if ss.claim == nil {
		return r.Context()
	}
	return latchkey.WithIdempotencyClaim(r.Context(), *ss.claim)
}
