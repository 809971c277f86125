package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	nethttp "net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"latchkey"
)

// The Audit screen (issue 13, screen 7), for admins and delegates: the
// log newest first, filtered by action, actor, terminal and time, a page
// at a time; and, for admins, verify the chain, download a signed seal
// and export the records the filter selects as JSON Lines. The filter is
// the API's (latchkey.ParseAuditQuery), read from the same query
// parameters as GET /v1/audit.

// auditPageSize is how many records a page of the screen shows.
const auditPageSize = 50

// auditView is the screen's own values (consoleView.Page).
type auditView struct {
	// The filter as the form shows it.
	Action, Actor, Terminal, From, To string
	Actions                           []latchkey.ActionInfo
	Terminals                         []latchkey.Terminal // the datalist's choices
	Records                           []auditRow
	// Older is the next page's link ("" at the oldest); Newest the first
	// page's, when this is not it.
	Older, Newest string
	// ExportURL is the export of what the filter selects.
	ExportURL string
	// CanAdmin: verify, seal and export are the admins' (a delegate is
	// told why in NotAdmin).
	CanAdmin bool
	NotAdmin string
	// Verified is the chain's check, once asked for.
	Verified *latchkey.AuditVerification
	Filtered bool
	// FilterQuery is the page's query, for the verify form to come back to.
	FilterQuery string
}

// VerifyWords is the verdict of the check in words.
func (p *auditView) VerifyWords() string { return verifyWords(p.Verified) }

// auditRow is a record as the table shows it.
type auditRow struct {
	Seq                  int64
	At                   time.Time
	Actor, ActorID       string
	Terminal, TerminalID string
	Action               latchkey.Action
	Target               string
	Details              string
}

// auditRoutes registers the screen's routes.
func (s *Server) auditRoutes() {
	s.handle("GET /audit", s.consolePage(s.consoleAudit))
	s.handle("POST /audit/verify", s.consolePage(s.consoleAuditVerify))
	s.handle("GET /audit/seal", s.consolePage(s.consoleAuditSeal))
	s.handle("GET /audit/export", s.consolePage(s.consoleAuditExport))
}

// notAdminAudit is what a delegate is told of verify, seal and export.
const notAdminAudit = "Verifying the chain, downloading a seal and exporting are for admins: you are a delegate, so you can read and filter the log only."

// auditRefused is the page of a person the screen (or one of its admin
// parts) is not for, saying why.
func (s *Server) auditRefused(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, admin bool) bool {
	if err := latchkey.CanReadAudit(ss.caller); err != nil {
		s.render(w, r, nethttp.StatusForbidden, "error.html", consoleView{Session: &ss,
			Error: "The audit log is for admins and delegates: you are signed in as a " + string(ss.caller.Role) + "."})
		return true
	}
	if admin && latchkey.CanVerifyAudit(ss.caller) != nil {
		s.render(w, r, nethttp.StatusForbidden, "error.html", consoleView{Session: &ss, Error: notAdminAudit})
		return true
	}
	return false
}

// auditFilter reads the screen's filter: the API's query parameters, with
// from and to also taken as the form's datetime-local values (UTC).
func auditFilter(r *nethttp.Request) (latchkey.AuditFilter, error) {
	q := r.URL.Query()
	for _, field := range []string{"from", "to"} {
		v := strings.TrimSpace(q.Get(field))
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
			if t, err := time.Parse(layout, v); err == nil {
				v = t.UTC().Format(time.RFC3339)
				break
			}
		}
		q.Set(field, v)
	}
	q.Set("actor", strings.TrimSpace(q.Get("actor")))
	q.Set("terminal", strings.TrimSpace(q.Get("terminal")))
	if q.Get("order") == "" {
		q.Set("order", "newest")
	}
	if q.Get("limit") == "" {
		q.Set("limit", strconv.Itoa(auditPageSize))
	}
	return latchkey.ParseAuditQuery(q)
}

// formTime is a time as a datetime-local field shows it (UTC).
func formTime(t time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case t.Second() == 0 && t.Nanosecond() == 0:
		return t.UTC().Format("2006-01-02T15:04")
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// narrowed says whether f selects by more than seq.
func narrowed(f latchkey.AuditFilter) bool {
	return f.Actor != "" || f.Action != "" || f.Terminal != "" || !f.From.IsZero() || !f.To.IsZero()
}

// consoleAudit is the screen.
func (s *Server) consoleAudit(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	s.auditPage(w, r, ss, nil)
}

func (s *Server) auditPage(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, verified *latchkey.AuditVerification) {
	if s.auditRefused(w, r, ss, false) {
		return
	}
	q := r.URL.Query()
	p := &auditView{Action: q.Get("action"), Actor: q.Get("actor"), Terminal: q.Get("terminal"), From: q.Get("from"), To: q.Get("to"),
		Actions: latchkey.Actions, CanAdmin: latchkey.CanVerifyAudit(ss.caller) == nil, Verified: verified}
	if !p.CanAdmin {
		p.NotAdmin = notAdminAudit
	}
	v := consoleView{Session: &ss, Page: p}
	f, err := auditFilter(r)
	var items []latchkey.AuditRecord
	if err == nil {
		items, err = s.store.ListAudit(r.Context(), ss.caller, f)
	}
	if err == nil {
		p.Terminals, _, err = s.store.ListTerminals(r.Context(), ss.caller, latchkey.Page{Limit: 200})
	}
	if err != nil {
		status, msg := consoleError(err)
		if field, ok := latchkey.ErrorDetails(err)["field"].(string); ok && status == nethttp.StatusBadRequest {
			msg = "The filter's " + field + " is not right: " + msg
		}
		v.Error = msg
		s.render(w, r, status, "audit.html", v)
		return
	}
	p.Filtered = narrowed(f)
	p.FilterQuery = r.URL.RawQuery
	p.From, p.To = formTime(f.From), formTime(f.To)
	base := f
	base.Before, base.After = 0, 0
	link := func(g latchkey.AuditFilter) string {
		q := g.Query()
		if f.Limit != auditPageSize { // a page size asked for in the address stays
			q.Set("limit", strconv.Itoa(f.Limit))
		}
		return "/audit?" + q.Encode()
	}
	if next := f.NextAudit(items); next > 0 {
		older := base
		older.Before = next
		p.Older = link(older)
	}
	if f.Before > 0 {
		p.Newest = link(base)
	}
	exp := base
	exp.Newest = false
	p.ExportURL = "/audit/export?" + exp.Query().Encode()
	p.Records = s.auditRows(r, ss, items)
	s.render(w, r, nethttp.StatusOK, "audit.html", v)
}

// auditRows names the records' actors and terminals (an ID stays when it
// names nothing the caller may read).
func (s *Server) auditRows(r *nethttp.Request, ss consoleSession, items []latchkey.AuditRecord) []auditRow {
	var terms, people []string
	actors := map[string]string{"system": "the server"}
	for _, it := range items {
		if it.Terminal != "" {
			terms = append(terms, it.Terminal)
		}
		if _, ok := actors[it.Actor]; ok {
			continue
		}
		actors[it.Actor] = it.Actor
		switch {
		case strings.HasPrefix(it.Actor, "prn_"):
			people = append(people, it.Actor)
		case strings.HasPrefix(it.Actor, "term_"):
			terms = append(terms, it.Actor)
		}
	}
	if found, err := s.store.PrincipalNames(r.Context(), ss.caller, people); err == nil {
		maps.Copy(actors, found)
	}
	names := s.terminalNames(r, ss, terms)
	rows := make([]auditRow, len(items))
	for i, it := range items {
		actor := actors[it.Actor]
		if n := names[it.Actor]; n != "" {
			actor = n
		}
		rows[i] = auditRow{Seq: it.Seq, At: it.At, Actor: actor, ActorID: it.Actor, TerminalID: it.Terminal,
			Terminal: names[it.Terminal], Action: it.Action, Target: it.Target, Details: auditDetails(it.Details)}
		if rows[i].Terminal == "" {
			rows[i].Terminal = it.Terminal
		}
	}
	return rows
}

// auditDetails is a record's details in a line a person reads: key: value
// pairs with the keys sorted, strings without quotes,
// anything else as compact JSON, cut at 300 characters.
func auditDetails(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return string(raw)
		}
		return cut(b.String())
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		var str string
		val := string(m[k])
		if json.Unmarshal(m[k], &str) == nil {
			val = str
		} else {
			var b bytes.Buffer
			if json.Compact(&b, m[k]) == nil {
				val = b.String()
			}
		}
		parts = append(parts, k+": "+val)
	}
	return cut(strings.Join(parts, ", "))
}

func cut(s string) string {
	if r := []rune(s); len(r) > 300 {
		return string(r[:299]) + "…"
	}
	return s
}

// consoleAuditVerify checks the chain (admins) and shows the screen with
// the verdict in words.
func (s *Server) consoleAuditVerify(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	if s.auditRefused(w, r, ss, true) {
		return
	}
	v, err := s.store.VerifyAudit(r.Context(), ss.caller)
	if err != nil {
		s.renderError(w, r, ss, err)
		return
	}
	// The page after the check: the screen as the form's back link had it.
	if back, err := url.ParseQuery(r.PostFormValue("filter")); err == nil {
		r.URL.RawQuery = back.Encode()
	} else {
		r.URL.RawQuery = ""
	}
	s.auditPage(w, r, ss, v)
}

// verifyWords is the verdict of a check of the chain in words.
func verifyWords(v *latchkey.AuditVerification) string {
	if v.OK {
		if v.Records == 0 {
			return "The chain is whole: it has no records yet."
		}
		return fmt.Sprintf("The chain is whole: %d records, from 1 to %d.", v.Records, v.Records)
	}
	why := map[string]string{
		latchkey.BrokenChain: "its hash or its link does not follow from the records before it (it was edited, deleted, inserted or moved)",
		latchkey.BrokenHead:  "the chain ends before the head the store recorded (the newest records were removed or rewritten)",
	}[v.Reason]
	if why == "" {
		return fmt.Sprintf("The chain is broken at record %d.", v.FirstBadSeq)
	}
	return fmt.Sprintf("The chain is broken at record %d: %s.", v.FirstBadSeq, why)
}

// consoleAuditSeal downloads the chain's head signed with the server's
// key (admins): the object GET /v1/audit/seal answers, as a file named as
// the sealer names its files.
func (s *Server) consoleAuditSeal(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	if s.auditRefused(w, r, ss, true) {
		return
	}
	seal, err := s.store.SealAudit(r.Context(), ss.caller)
	var b []byte
	if err == nil {
		b, err = json.MarshalIndent(seal, "", "  ")
	}
	if err != nil {
		s.renderError(w, r, ss, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", `attachment; filename="`+SealFileName(seal.Seq)+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(append(b, '\n'))
}

// consoleAuditExport streams the records the filter selects, oldest
// first, as JSON Lines (latchkey.AuditLine, the lines of GET
// /v1/audit/export and `latchkey audit export`), admins only. Without a
// filter but after it is the API's export itself (up to the head when it
// began); with one, the filtered list read a store page at a time.
func (s *Server) consoleAuditExport(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	if s.auditRefused(w, r, ss, true) {
		return
	}
	f, err := auditFilter(r)
	if err != nil {
		s.renderError(w, r, ss, err)
		return
	}
	f.Newest, f.Before, f.Limit = false, 0, latchkey.MaxPageLimit
	filtered := narrowed(f)
	name := "audit-after-" + strconv.FormatInt(f.After, 10) + ".jsonl"
	if filtered {
		name = "audit-filtered-after-" + strconv.FormatInt(f.After, 10) + ".jsonl"
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	s.writeLines(w, r, nethttp.StatusOK, func(emit func(any) error) error {
		if !filtered {
			return s.store.ExportAudit(r.Context(), ss.caller, f.After, func(rec latchkey.AuditRecord) error {
				return emit(rec.ExportLine())
			})
		}
		for {
			items, err := s.store.ListAudit(r.Context(), ss.caller, f)
			if err != nil {
				return err
			}
			for _, rec := range items {
				if err := emit(rec.ExportLine()); err != nil {
					return err
				}
			}
			if f.After = f.NextAudit(items); f.After == 0 {
				return nil
			}
		}
	})
}
