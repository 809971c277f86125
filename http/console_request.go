package http

import (
	"cmp"
	"fmt"
	nethttp "net/http"
	"time"

	"latchkey"
)

// A request's page (failover-scenarios.txt): who asked for what, where
// it stands in words, and its workflow's steps, followed live
// (request.js reloads the live part when one of the request's events
// arrives), with Cancel for its requester and staff while it runs.

// requestView is a request's page.
type requestView struct {
	Request   latchkey.Request
	Workflow  latchkey.Workflow
	Words     string
	Steps     []stepRow
	Terminals []string // names
	CanCancel bool
}

// stepRow is a workflow step in words.
type stepRow struct {
	What, Status, Node, When, Error, Checkout string
	Attempts                                  int
}

// requestWords says where a request stands.
func requestWords(r latchkey.Request) string {
	switch r.Status {
	case latchkey.RequestWaitingApproval:
		return "Waiting for approval."
	case latchkey.RequestProvisioning:
		return "Approved: granting the groups on the workstations."
	case latchkey.RequestActive:
		return "Active: the groups are granted on every terminal."
	case latchkey.RequestDone:
		return "Done: checked in everywhere."
	case latchkey.RequestDenied:
		return "Denied."
	case latchkey.RequestCancelled:
		if r.EndReason == "expired" {
			return "Cancelled: nobody decided in time."
		}
		return "Cancelled."
	case latchkey.RequestFailed:
		return "Failed: " + r.EndReason + "."
	}
	return string(r.Status)
}

// stepWhat names a step for people (names: terminals by ID).
func stepWhat(name string, names map[string]string) string {
	switch name {
	case latchkey.StepApprove:
		return "Approval"
	case latchkey.StepNotify:
		return "Tell the requester"
	}
	if t, ok := latchkey.ProvisionTerminal(name); ok {
		if n := names[t]; n != "" {
			t = n
		}
		return "Grant on " + t
	}
	return name
}

// stepWhen says when a step started and ended.
func stepWhen(st latchkey.WorkflowStep) string {
	f := func(t *time.Time) string { return t.UTC().Format("15:04:05 UTC") }
	switch {
	case st.StartedAt != nil && st.EndedAt != nil:
		return f(st.StartedAt) + " – " + f(st.EndedAt)
	case st.StartedAt != nil:
		return "since " + f(st.StartedAt)
	case st.EndedAt != nil:
		return f(st.EndedAt)
	}
	return ""
}

// requestPage reads a request and its workflow as the caller may see
// them.
func (s *Server) requestPage(r *nethttp.Request, ss consoleSession) (requestView, error) {
	req, err := s.store.Request(r.Context(), ss.caller, r.PathValue("id"))
	if err != nil {
		return requestView{}, err
	}
	wf, err := s.store.Workflow(r.Context(), ss.caller, req.Workflow)
	if err != nil {
		return requestView{}, err
	}
	names := s.terminalNames(r, ss, req.Terminals)
	v := requestView{Request: req, Workflow: wf, Words: requestWords(req),
		CanCancel: !req.Status.Ended() && latchkey.CanCancelRequest(ss.caller, req) == nil}
	for _, t := range req.Terminals {
		v.Terminals = append(v.Terminals, cmp.Or(names[t], t))
	}
	for _, st := range wf.Steps {
		v.Steps = append(v.Steps, stepRow{What: stepWhat(st.Name, names), Status: string(st.Status), Node: st.Node,
			When: stepWhen(st), Error: st.Error, Checkout: st.Checkout, Attempts: st.Attempts})
	}
	return v, nil
}

// consoleRequest is a request's page.
func (s *Server) consoleRequest(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	s.showRequest(w, r, ss, nethttp.StatusOK, "", "")
}

func (s *Server) showRequest(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, status int, notice, failure string) {
	v, err := s.requestPage(r, ss)
	if err != nil {
		s.renderError(w, r, ss, err)
		return
	}
	if r.URL.Query().Get("sent") == "again" {
		notice = "That form was sent before and applied once."
	}
	s.render(w, r, status, "request.html", consoleView{Session: &ss, Page: v, Notice: notice, Error: failure})
}

// consoleRequestLive is the live part of a request's page (request.js).
func (s *Server) consoleRequestLive(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	v, err := s.requestPage(r, ss)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.render(w, r, nethttp.StatusOK, "request-live", consoleView{Session: &ss, Page: v})
}

// consoleCancelRequest cancels a request that has not ended; what was
// granted is checked in.
func (s *Server) consoleCancelRequest(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	q, err := s.store.CancelRequest(ss.changeCtx(r), ss.caller, r.PathValue("id"))
	if err != nil {
		status, msg := consoleError(err)
		s.showRequest(w, r, ss, status, "", msg)
		return
	}
	s.showRequest(w, r, ss, nethttp.StatusOK, fmt.Sprintf("Request %s cancelled.", q.ID), "")
}
