package http

import (
	"cmp"
	"fmt"
	nethttp "net/http"

	"latchkey"
)

// The approvals inbox (failover-scenarios.txt): the caller's open work
// items with what was asked (requester, group set, terminals, minutes,
// reason), approved or denied with a comment; a request's page shows its
// workflow's steps.

// inboxItem is an open work item with its request.
type inboxItem struct {
	Item      latchkey.WorkItem
	Request   latchkey.Request
	Who       string // the requester's name
	Set       string // the group set's name
	Terminals []string
}

// consoleApprovals is the inbox.
func (s *Server) consoleApprovals(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	s.approvalsPage(w, r, ss, "", "")
}

func (s *Server) approvalsPage(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession, notice, failure string) {
	v := consoleView{Session: &ss, Notice: notice, Error: failure}
	if r.URL.Query().Get("sent") == "again" {
		v.Notice = "That decision was sent before and applied once."
	}
	items, _, err := s.store.WorkItems(r.Context(), ss.caller, latchkey.WorkItemOpen, latchkey.Page{Limit: 200})
	for i := 0; err == nil && i < len(items); i++ {
		var req latchkey.Request
		if req, err = s.store.Request(r.Context(), ss.caller, items[i].Request); err == nil {
			it := inboxItem{Item: items[i], Request: req, Who: cmp.Or(req.RequesterName, req.Requester), Set: cmp.Or(req.GroupSetName, req.GroupSet)}
			names := s.terminalNames(r, ss, req.Terminals)
			for _, t := range req.Terminals {
				it.Terminals = append(it.Terminals, cmp.Or(names[t], t))
			}
			v.Inbox = append(v.Inbox, it)
		}
	}
	if err != nil {
		status, msg := consoleError(err)
		v.Error = msg
		s.render(w, r, status, "error.html", v)
		return
	}
	status := nethttp.StatusOK
	if failure != "" {
		status = nethttp.StatusConflict
	}
	s.render(w, r, status, "approvals.html", v)
}

// consoleDecide approves or denies a work item, with its comment.
func (s *Server) consoleDecide(w nethttp.ResponseWriter, r *nethttp.Request, ss consoleSession) {
	d := latchkey.WorkItemDecide{Decision: latchkey.WorkItemDecision(r.PostFormValue("decision")), Comment: r.PostFormValue("comment")}
	err := d.Validate()
	var item latchkey.WorkItem
	if err == nil {
		item, err = s.store.DecideWorkItem(ss.changeCtx(r), ss.caller, r.PathValue("id"), d)
	}
	if err != nil {
		_, msg := consoleError(err)
		s.approvalsPage(w, r, ss, "", msg)
		return
	}
	word := map[latchkey.WorkItemDecision]string{latchkey.DecisionApprove: "approved", latchkey.DecisionDeny: "denied"}[d.Decision]
	s.approvalsPage(w, r, ss, fmt.Sprintf("Request %s %s.", item.Request, word), "")
}
