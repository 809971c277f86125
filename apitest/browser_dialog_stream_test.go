package apitest_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// A managed dialog whose lock stream connects only after its lock changed
// (a page made just before the change, its stream still connecting on a
// slow machine) still shows the change: the stream's events are only of
// changes after it connects, so the dialog reads its state once the
// stream is open. Here B's stream is held back until A's close has
// handed B the lock; without that read, B's badge stayed READ ONLY until
// the lease renewal 20 s later.
func TestConsoleDialogCatchesUpWhenItsStreamOpens(t *testing.T) {
	t.Parallel()
	latchkeyBinary(t)
	dataDir := t.TempDir()
	srv := startServer(t, "sqlite://"+filepath.Join(dataDir, "latchkey.db"), dataDir)
	admin := adminOf(t, srv)
	a, b := adminAndCarol(t, srv, admin)
	// In B's tab every page's EventSource waits for window.openStreams().
	b.do("hold B's streams", chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: `(() => {
			const Real = window.EventSource;
			window.EventSource = class {
				constructor(url, opts) {
					this.listeners = [];
					window.openStreams = () => {
						const es = new Real(url, opts);
						for (const [type, fn] of this.listeners) es.addEventListener(type, fn);
						return 'opened';
					};
				}
				addEventListener(type, fn) { this.listeners.push([type, fn]); }
				close() {}
			};
		})()`})
		return err
	}))

	a.do("A opens the dialog", chromedp.Navigate(srv.URL+"/admin/users"), chromedp.WaitVisible(chromedp.CSS("#badge")))
	b.do("B opens the dialog", chromedp.Navigate(srv.URL+"/admin/users"), chromedp.WaitVisible(chromedp.CSS("#badge")))
	b.do("B: REQ LOCK", chromedp.Click(chromedp.CSS("#reqlock")))
	b.within(5*time.Second, "B after REQ LOCK", `document.getElementById('position') ? document.getElementById('position').textContent : ''`, "You are number 1 in the queue.")
	lock := b.eval(`document.getElementById('badge').dataset.lock`)
	a.do("A closes the dialog", chromedp.Click(chromedp.CSS("#close")))
	a.within(5*time.Second, "A back on the start page", `location.pathname`, "/")
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := admin.GetLock(context.Background(), lock)
		if err == nil && l.Holder != nil && l.Holder.Name == "carol" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock %s after A closed: %+v, %v; want carol holding it", lock, l, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := b.text("#access"); got != "ACCESS: READ ONLY" {
		t.Fatalf("B's badge before its stream opened: %q (the test did not hold the stream)", got)
	}
	if got := b.eval(`window.openStreams()`); got != "opened" {
		t.Fatalf("opening B's stream: %q", got)
	}
	took := b.within(5*time.Second, "B's badge once its stream opened", `document.getElementById('access').textContent`, "ACCESS: EXCLUSIVE")
	t.Logf("B's dialog turned exclusive %s after its stream opened", took.Round(time.Millisecond))
}
