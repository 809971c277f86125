package apitest_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	lkhttp "latchkey/http"
	"latchkey/sqlstore/sqlstoretest"
)

// Cluster and tasks over HTTP, both stores, for an admin: the nodes with
// whether each is alive and what it runs; a report scheduled with the
// form runs and its page shows the rows and the chart, its CSV downloads
// with the right rows and its chart is a PNG; a reconciliation with no
// agents reports every terminal unreachable; bad input is said in words
// on the form, keeps what was typed and creates nothing; the form is
// applied once when sent twice; the tasks page in pages of 25, newest
// first; and a delegate and a user are refused, in words, everywhere.
func TestConsoleClusterAndTasks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 2)
		ctx := context.Background()
		day := w.clock.Now().Format(latchkey.TaskDateLayout)
		// Sessions in the report's range: alice and bob, one each.
		w.mustLogin(0, "alice", false)
		w.mustLogin(1, "bob", false)
		// Two nodes: node_b's last beat is old, node_a beats now.
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(w.store.Heartbeat(ctx, latchkey.Node{ID: "node_b", Addr: "10.0.0.2:8443"}))
		w.clock.Advance(10 * time.Second)
		must(w.store.Heartbeat(ctx, latchkey.Node{ID: "node_a", Addr: "10.0.0.1:8443"}))

		admin := newBrowser(t, w.url)
		tok := admin.logOn("admin", adminPassword)
		resp, page := admin.do("GET", "/cluster", nil)
		if resp.StatusCode != 200 || !strings.Contains(page, `<h1 class="widepage">Cluster and tasks</h1>`) || !strings.Contains(page, "No task has been scheduled yet") {
			t.Fatalf("the empty screen: %d\n%s", resp.StatusCode, page)
		}
		nodeRow := func(page, id string) string {
			m := regexp.MustCompile(`(?s)<tr id="node-` + id + `".*?</tr>`).FindString(page)
			if m == "" {
				t.Fatalf("no row of %s:\n%s", id, page)
			}
			return m
		}
		if a := nodeRow(page, "node_a"); !strings.Contains(a, `data-alive="true"`) || !strings.Contains(a, "10.0.0.1:8443") || !strings.Contains(a, ">alive<") || !strings.Contains(a, "no task") {
			t.Fatalf("node_a: %s", a)
		}
		if b := nodeRow(page, "node_b"); !strings.Contains(b, `data-alive="false"`) || !strings.Contains(b, "not alive (no heartbeat for 3 s or more)") {
			t.Fatalf("node_b: %s", b)
		}
		if !strings.Contains(page, `<time datetime="2026-11-23T09:00:10Z"><span class="nowrap">2026-11-23</span> <span class="nowrap">09:00:10 UTC</span></time>`) {
			t.Fatalf("node_a's heartbeat time is not shown in UTC:\n%s", page)
		}

		tasks := func() int {
			t.Helper()
			xs, _, err := w.admin.ListTasks(ctx, latchkey.TaskFilter{})
			must(err)
			return len(xs)
		}
		schedule := func(form url.Values) (int, string, string) {
			t.Helper()
			form.Set("csrf", tok)
			if form.Get("idem") == "" {
				form.Set("idem", latchkey.NewID("form"))
			}
			resp, page := admin.do("POST", "/cluster", form)
			return resp.StatusCode, resp.Header.Get("Location"), page
		}

		// Bad input: said in words, what was typed kept, nothing created.
		for _, c := range []struct {
			form       url.Values
			say, field string
		}{
			{url.Values{"kind": {"report"}, "from": {"2026-11-23"}, "to": {"2026-11-20"}, "when": {"now"}}, "The last day must not be before the first.", "to"},
			{url.Values{"kind": {"report"}, "from": {"23/11/2026"}, "to": {"2026-11-23"}}, "Give the report's first day as a date (YYYY-MM-DD).", "from"},
			{url.Values{"kind": {"reconcile"}, "batch": {"5000"}}, "Batch must be 1 to 1000 terminals.", "batch"},
			{url.Values{"kind": {"reconcile"}, "every_hours": {"0.5"}}, "Repeat every 1 to 8784 hours (a whole number), or leave it empty to run once.", "every_hours"},
			{url.Values{"kind": {"reconcile"}, "when": {"at"}, "at": {"2020-01-01T08:00"}}, "The time to run it must be from now to a year ahead (UTC).", "at"},
			{url.Values{"kind": {"audit_seal"}}, "Choose what to run: a report or a reconciliation.", "kind"},
		} {
			status, _, page := schedule(c.form)
			if status != 400 || !strings.Contains(page, `<p class="error" role="alert" id="form-error">`+html.EscapeString(c.say)+`</p>`) {
				t.Fatalf("%v: %d\n%s", c.form, status, page)
			}
			if !regexp.MustCompile(`id="` + c.field + `"[^>]*aria-invalid="true"|name="` + c.field + `"[^>]*aria-invalid="true"`).MatchString(page) {
				t.Fatalf("%v: the field %s is not marked:\n%s", c.form, c.field, page)
			}
			for k, v := range c.form {
				if (k == "from" || k == "to" || k == "batch" || k == "every_hours" || k == "at") && !strings.Contains(page, `value="`+v[0]+`"`) {
					t.Fatalf("%v: what was typed in %s is not kept:\n%s", c.form, k, page)
				}
			}
		}
		if n := tasks(); n != 0 {
			t.Fatalf("refused forms made %d tasks", n)
		}

		// A report of today, scheduled now; its form sent twice is applied once.
		form := url.Values{"kind": {"report"}, "from": {day}, "to": {day}, "when": {"now"}, "idem": {latchkey.NewID("form")}}
		status, loc, page := schedule(form)
		if status != 303 || !strings.HasPrefix(loc, "/tasks/task_") {
			t.Fatalf("schedule a report: %d %q\n%s", status, loc, page)
		}
		id := strings.TrimPrefix(loc, "/tasks/")
		if status, loc, _ := schedule(form); status != 303 || loc != "/cluster?sent=again" {
			t.Fatalf("the same form again: %d %q", status, loc)
		}
		if _, page := admin.do("GET", "/cluster?sent=again", nil); !strings.Contains(page, "That form was sent before and applied once") {
			t.Fatalf("the replay's notice:\n%s", page)
		}
		if n := tasks(); n != 1 {
			t.Fatalf("the form sent twice made %d tasks", n)
		}
		resp, page = admin.do("GET", loc, nil)
		if resp.StatusCode != 200 || !strings.Contains(page, `<h1 class="widepage">Report of `+day+"</h1>") || !strings.Contains(page, "Due: waiting for a node to start it.") ||
			!strings.Contains(page, `data-poll="1000"`) || strings.Contains(page, `id="download"`) || !strings.Contains(page, "not started") {
			t.Fatalf("the report's page before it runs: %d\n%s", resp.StatusCode, page)
		}
		_, page = admin.do("GET", "/cluster", nil)
		if row := regexp.MustCompile(`(?s)<tr id="task-` + id + `".*?</tr>`).FindString(page); !strings.Contains(row, "Report of "+day) || !strings.Contains(row, `<progress id="progress-`+id+`" aria-label`) {
			t.Fatalf("the task's row while due: %s", row)
		}
		must(w.store.RunDueJobs(ctx, "node_a", latchkey.JobTask))
		_, live := admin.do("GET", "/tasks/"+id+"/live", nil)
		if !strings.Contains(live, `data-poll="0"`) || !strings.Contains(live, `data-status="done"`) || !strings.Contains(live, `max="1" value="1"`) || !strings.Contains(live, "1 of 1 (100%)") {
			t.Fatalf("the live part once done:\n%s", live)
		}
		resp, page = admin.do("GET", "/tasks/"+id, nil)
		if resp.StatusCode != 200 || !strings.Contains(page, "Done.") || !strings.Contains(page, `href="/tasks/`+id+`/result" download="`+id+`.csv"`) ||
			!strings.Contains(page, `<img id="chart" src="/tasks/`+id+`/chart" alt="Bar chart: the sessions started in each hour of the day`) ||
			!strings.Contains(page, "<td>alice</td><td>1</td>") || !strings.Contains(page, "<td>bob</td><td>1</td>") || !strings.Contains(page, "node_a") {
			t.Fatalf("the report's page once done:\n%s", page)
		}
		resp, body := admin.do("GET", "/tasks/"+id+"/result", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || resp.Header.Get("Content-Disposition") != `attachment; filename="`+id+`.csv"` {
			t.Fatalf("the CSV: %d %v", resp.StatusCode, resp.Header)
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		must(err)
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%s/%s/%s", r[1], r[3], r[4]))
		}
		if strings.Join(got, " ") != "site_name/name/sessions branch/alice/1 branch/bob/1" {
			t.Fatalf("the CSV's rows: %v\n%s", got, body)
		}
		resp, png := admin.do("GET", "/tasks/"+id+"/chart", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(png, "\x89PNG\r\n") {
			t.Fatalf("the chart: %d %v %q", resp.StatusCode, resp.Header, png[:min(len(png), 8)])
		}

		// A reconciliation with no agent: every terminal, where latchkey
		// manages a group, unreachable.
		_, err = w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel"}, Eligible: []string{w.alice.ID}})
		must(err)
		status, loc, page = schedule(url.Values{"kind": {"reconcile"}, "fix": {"yes"}, "batch": {"1"}, "when": {"now"}})
		if status != 303 {
			t.Fatalf("schedule a reconciliation: %d\n%s", status, page)
		}
		must(w.store.RunDueJobs(ctx, "node_a", latchkey.JobTask))
		_, page = admin.do("GET", loc, nil)
		for _, want := range []string{`<h1 class="widepage">Reconciliation, correcting drift</h1>`, "Done.", "2 of 2 (100%)",
			`<th scope="row">Terminals</th><td>2</td>`, `<th scope="row">Unreachable (their agent did not answer)</th><td>2</td>`,
			`<th scope="row">Answered</th><td>0</td>`, `<th scope="row">counter 0</th>`, `<th scope="row">counter 1</th>`,
			"<td>unreachable: its agent did not answer</td>", `download="task_`} {
			if !strings.Contains(page, want) {
				t.Fatalf("the reconciliation's page lacks %q:\n%s", want, page)
			}
		}
		if resp, _ := admin.do("GET", loc+"/chart", nil); resp.StatusCode != 404 {
			t.Fatalf("a reconciliation's chart: %d", resp.StatusCode)
		}

		// A reconciliation waiting for an agent that polled and then went
		// quiet: the task runs on node_a, which the nodes' table says, and
		// its page asks again every second; it ends when its wait (by the
		// store's clock) is over.
		if _, err := w.tc[0].PollInstructions(ctx, 0); err != nil {
			t.Fatal(err)
		}
		status, loc, _ = schedule(url.Values{"kind": {"reconcile"}, "when": {"now"}})
		waiting := strings.TrimPrefix(loc, "/tasks/")
		if status != 303 {
			t.Fatalf("schedule a reconciliation: %d", status)
		}
		ran := make(chan error, 1)
		go func() { ran <- w.store.RunDueJobs(ctx, "node_a", latchkey.JobTask) }()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, page = admin.do("GET", "/cluster/live", nil)
			if strings.Contains(nodeRow(page, "node_a"), `<a href="/tasks/`+waiting+`">`+waiting+`</a>`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node_a never said it runs %s:\n%s", waiting, page)
			}
		}
		if row := regexp.MustCompile(`(?s)<tr id="task-` + waiting + `".*?</tr>`).FindString(page); !strings.Contains(row, "Running on node_a.") || !strings.Contains(row, `data-status="running"`) {
			t.Fatalf("the running task's row: %s", row)
		}
		if !strings.Contains(page, `data-poll="1000"`) {
			t.Fatalf("the live part while a task runs does not ask again every second:\n%s", page)
		}
		w.clock.Advance(2 * time.Minute) // past the reconciliation's wait
		must(<-ran)
		if x, err := w.admin.GetTask(ctx, waiting); err != nil || x.Status != latchkey.TaskDone {
			t.Fatalf("the reconciliation after its wait: %+v, %v", x, err)
		}

		// A scheduled task later, and paging: 25 to a page, newest first.
		status, loc, _ = schedule(url.Values{"kind": {"reconcile"}, "when": {"at"}, "at": {"2026-11-23T12:00"}, "every_hours": {"24"}})
		later := strings.TrimPrefix(loc, "/tasks/")
		if status != 303 {
			t.Fatalf("schedule at a time: %d", status)
		}
		if x, err := w.admin.GetTask(ctx, later); err != nil || x.Every != "24h" || !x.RunAt.Equal(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)) {
			t.Fatalf("the task scheduled at noon: %+v, %v", x, err)
		}
		for range 25 {
			_, err := w.admin.CreateTask(ctx, latchkey.TaskCreate{Kind: latchkey.TaskAuditSeal, RunAt: client.Ptr(w.clock.Now().Add(time.Hour))})
			must(err)
		}
		_, page = admin.do("GET", "/cluster", nil)
		if n := strings.Count(page, `<tr id="task-`); n != 25 || strings.Contains(page, `id="task-`+id+`"`) || !strings.Contains(page, `id="older"`) {
			t.Fatalf("the first page: %d tasks\n%s", n, page)
		}
		older := regexp.MustCompile(`href="(/cluster\?after=[^"]+)" id="older"`).FindStringSubmatch(page)
		_, page = admin.do("GET", older[1], nil)
		if n := strings.Count(page, `<tr id="task-`); n != 4 || !strings.Contains(page, `id="task-`+id+`"`) || !strings.Contains(page, "Tasks (older)") {
			t.Fatalf("the older page: %d tasks\n%s", n, page)
		}

		// A delegate and a user are refused, in words, and change nothing.
		dora := w.person("dora", true, "dora")
		_, err = w.admin.UpdatePrincipal(ctx, dora.ID, latchkey.PrincipalUpdate{Role: client.Ptr(latchkey.RoleDelegate)})
		must(err)
		before := tasks()
		for _, who := range []string{"dora", "bob"} {
			br := newBrowser(t, w.url)
			tok := br.logOn(who, pw(who))
			if _, home := br.do("GET", "/", nil); strings.Contains(home, `href="/cluster"`) {
				t.Fatalf("%s's start page links to Cluster and tasks", who)
			}
			for _, path := range []string{"/cluster", "/cluster/live", "/tasks/" + id, "/tasks/" + id + "/result", "/tasks/" + id + "/chart"} {
				resp, page := br.do("GET", path, nil)
				if resp.StatusCode != 403 || (!strings.HasSuffix(path, "/live") && !strings.Contains(page, "Cluster and tasks is for admins only.")) {
					t.Fatalf("%s GET %s: %d\n%s", who, path, resp.StatusCode, page)
				}
			}
			resp, page := br.do("POST", "/cluster", url.Values{"csrf": {tok}, "idem": {latchkey.NewID("form")}, "kind": {"report"}, "from": {day}, "to": {day}})
			if resp.StatusCode != 403 || !strings.Contains(page, "Cluster and tasks is for admins only. Tasks are scheduled and read by an admin.") {
				t.Fatalf("%s schedules: %d\n%s", who, resp.StatusCode, page)
			}
		}
		if n := tasks(); n != before {
			t.Fatalf("refused callers made %d tasks", n-before)
		}
	})
}

// racingTasks is a store whose next Tasks call, once armed, is followed by
// between before it answers: a task that starts between the cluster
// page's reads.
type racingTasks struct {
	latchkey.Store
	mu      sync.Mutex
	between func()
}

func (s *racingTasks) Tasks(ctx context.Context, c latchkey.Caller, f latchkey.TaskFilter) ([]latchkey.Task, string, error) {
	out, next, err := s.Store.Tasks(ctx, c, f)
	s.mu.Lock()
	between := s.between
	s.between = nil
	s.mu.Unlock()
	if between != nil {
		between()
	}
	return out, next, err
}

// The cluster page says one thing of a task: a task that starts between
// the page's reads of the tasks (a page of them, and those running, which
// the nodes' table shows) is running in both of its rows or in neither.
// (The page read the page of tasks first and the running ones after: a
// task started in between was shown run by its node while its own row
// still said scheduled, the CI flake of TestConsoleClusterAndTasks.)
func TestConsoleClusterPageAgreesWithItself(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		if err := w.store.Heartbeat(ctx, latchkey.Node{ID: "node_a", Addr: "10.0.0.1:8443"}); err != nil {
			t.Fatal(err)
		}
		racing := &racingTasks{Store: w.store}
		lk := lkhttp.NewServer(racing, lkhttp.Options{})
		srv := httptest.NewServer(lk.Handler())
		t.Cleanup(srv.Close)
		t.Cleanup(lk.EndStreams)
		// A reconciliation (of a terminal where latchkey manages a group)
		// that waits for an agent that polled and then went quiet: it runs
		// until its wait is over.
		if _, err := w.admin.CreateGroupSet(ctx, latchkey.GroupSet{Name: "tools", Groups: []string{"wheel"}, Eligible: []string{w.alice.ID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.tc[0].PollInstructions(ctx, 0); err != nil {
			t.Fatal(err)
		}
		task, err := w.admin.CreateTask(ctx, latchkey.TaskCreate{Kind: latchkey.TaskReconcile, Params: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		admin := newBrowser(t, srv.URL)
		admin.logOn("admin", adminPassword)
		ran := make(chan error, 1)
		racing.mu.Lock()
		racing.between = func() {
			go func() { ran <- w.store.RunDueJobs(ctx, "node_a", latchkey.JobTask) }()
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if x, err := w.admin.GetTask(ctx, task.ID); err == nil && x.Status == latchkey.TaskRunning {
					return
				}
				if time.Now().After(deadline) {
					x, err := w.admin.GetTask(ctx, task.ID)
					t.Errorf("the task never started: %+v, %v", x, err)
					return
				}
			}
		}
		racing.mu.Unlock()
		_, page := admin.do("GET", "/cluster/live", nil)
		nodeSays := strings.Contains(regexp.MustCompile(`(?s)<tr id="node-node_a".*?</tr>`).FindString(page), `<a href="/tasks/`+task.ID+`">`)
		row := regexp.MustCompile(`(?s)<tr id="task-` + task.ID + `".*?</tr>`).FindString(page)
		rowSays := strings.Contains(row, `data-status="running"`)
		if nodeSays != rowSays {
			t.Errorf("the page says node_a runs the task: %v, and the task's row says running: %v\n%s", nodeSays, rowSays, page)
		}
		w.clock.Advance(2 * time.Minute) // past the reconciliation's wait
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
	})
}
