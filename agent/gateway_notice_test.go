package agent

import (
	"testing"

	"latchkey"
)

// The server's notices on a log-on (EUM-CE-CL-20) reach the counter in
// the answer to the log-on, and only there.
func TestLoginPassesTheServersNotices(t *testing.T) {
	_, f, g, _, _ := aliceGateway(t)
	n := latchkey.Notice{Code: latchkey.NoticeInUseOtherBranch, Message: "your identity is also in use at another branch",
		Sessions: []latchkey.SessionRef{{ID: "ses_far", TerminalID: "ter_far"}}}
	f.mu.Lock()
	f.notices = []latchkey.Notice{n}
	f.mu.Unlock()
	st := mustStatus(t)(g.Login(bg, LoginRequest{Identity: "alice", Password: "pw-a"}))
	if len(st.Notices) != 1 || st.Notices[0].Code != latchkey.NoticeInUseOtherBranch || st.Notices[0].Sessions[0].ID != "ses_far" {
		t.Fatalf("the log-on's answer: %+v", st.Notices)
	}
	if st := g.Status(bg); st.Notices != nil {
		t.Fatalf("GET /status repeats the notices: %+v", st.Notices)
	}
}
