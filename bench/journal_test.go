package bench_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"latchkey"
	"latchkey/bench"
)

func quickJournal(server string) bench.JournalConfig {
	// 150 entries a terminal: a full batch and a part one each.
	return bench.JournalConfig{Server: server, AdminPassword: adminPassword, Entries: 300, People: 7, Terminals: 2,
		Batch: 100, Concurrency: 2, Backend: "sqlite"}
}

// A small run against an in-process server: every entry is recorded once,
// and the re-upload answers exactly what the first upload did.
func TestRunJournal(t *testing.T) {
	t.Parallel()
	url := serve(t, nil)
	var progress bytes.Buffer
	r, err := bench.RunJournal(context.Background(), quickJournal(url), &progress)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	if !r.Idempotent || len(r.Problems) != 0 || r.SameResults != 300 || r.Verdicts[string(latchkey.VerdictOK)] != 300 || len(r.Verdicts) != 1 {
		t.Fatalf("result %+v: want every check passed and 300 ok verdicts, all answered the same again", r)
	}
	if r.SessionsAfterUpload != 300 || r.SessionsAfterReupload != 300 {
		t.Fatalf("%d sessions after the upload, %d after the re-upload: want 300 both times", r.SessionsAfterUpload, r.SessionsAfterReupload)
	}
	if r.Batches != 4 || r.DailyQuotaMinutes == 0 {
		t.Fatalf("%d batches, quota %d: want 4 batches (100 + 50 for each of 2 terminals) and a daily quota", r.Batches, r.DailyQuotaMinutes)
	}
	for _, p := range []bench.JournalPass{r.Upload, r.Reupload} {
		if p.Entries != 300 || p.Batches.Count != 4 || p.EntriesPerSec <= 0 || p.Batches.P50ms <= 0 || p.Batches.P50ms > p.Batches.P99ms || p.Batches.P99ms > p.Batches.MaxMs {
			t.Fatalf("pass %+v: want 300 entries in 4 batches, positive rates and p50 <= p99 <= max", p)
		}
	}
	var out bytes.Buffer
	r.WriteText(&out)
	for _, want := range []string{"re-upload", "idempotency check: passed", "300 after the upload, 300 after the re-upload"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// A server whose re-upload answers differently fails the run.
func TestRunJournalNotIdempotent(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]bool{}
	url := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/agent/journal" {
				h.ServeHTTP(w, r)
				return
			}
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			mu.Lock()
			again := seen[string(body)]
			seen[string(body)] = true
			mu.Unlock()
			out := rec.Body.Bytes()
			if again { // a re-upload: the first answer turns into a log-off
				out = bytes.Replace(out, []byte(`"verdict":"ok"`), []byte(`"verdict":"logoff"`), 1)
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			w.Write(out)
		})
	})
	cfg := quickJournal(url)
	r, err := bench.RunJournal(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "journal checks failed") {
		t.Fatalf("err %v: want the checks to fail", err)
	}
	if r == nil || r.Idempotent || r.SameResults != 300-4 || len(r.Problems) != 4 || r.SessionsAfterReupload != 300 {
		t.Fatalf("result %+v: want 4 answers (one a batch) found changed", r)
	}
}

func TestRunJournalRefused(t *testing.T) {
	for _, c := range []struct {
		cfg  bench.JournalConfig
		want string
	}{
		{bench.JournalConfig{AdminPassword: "x"}, "server"},
		{bench.JournalConfig{Server: "http://127.0.0.1:1"}, "password"},
		{bench.JournalConfig{Server: "http://127.0.0.1:1", AdminPassword: "x", Batch: latchkey.MaxJournalEntries + 1}, "batch"},
		{bench.JournalConfig{Server: "http://127.0.0.1:1", AdminPassword: "x", Entries: -1}, "entries"},
		{bench.JournalConfig{Server: "http://127.0.0.1:1", AdminPassword: "x", Concurrency: -2}, "concurrency"},
	} {
		if _, err := bench.RunJournal(context.Background(), c.cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", c.cfg, err, c.want)
		}
	}
}
