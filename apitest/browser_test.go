package apitest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"latchkey/sqlstore/sqlstoretest"
)

// newBrowserTab starts headless Chromium (Debian package chromium) and
// returns a tab's context, closed with the test. Without Chromium the
// test is skipped, unless LATCHKEY_REQUIRE_CHROMIUM is set (CI installs
// it and sets it).
func newBrowserTab(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("LATCHKEY_REQUIRE_CHROMIUM") != "" {
			t.Fatal("chromium is required (LATCHKEY_REQUIRE_CHROMIUM) and not installed")
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1100, 700), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil { // start the browser now: its own failure, not the first step's
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshot saves the page as docs/images/NAME.png when
// LATCHKEY_SCREENSHOTS names the docs/images directory (the docs'
// pictures are taken by the tests; CI only checks that they can be).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: a PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if dir := os.Getenv("LATCHKEY_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A person logs on in a real browser against a real `serve` on both
// stores: the start page asks them to log on, a wrong password is said in
// words, the right one opens the start page with their name, every
// control is reached with the keyboard, and Log off returns to the
// log-on page, whose session then no longer opens the start page.
func TestConsoleLogOnInABrowser(t *testing.T) {
	forEachProcessBackend(t, func(t *testing.T, _ sqlstoretest.Backend, storeURL, dataDir string) {
		srv := startServer(t, storeURL, dataDir)
		ctx := newBrowserTab(t)
		at := func(want string) {
			t.Helper()
			loc, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil || !strings.HasSuffix(loc, want) {
				t.Fatalf("at %q (%v), want %s", loc, err, want)
			}
		}
		text := func(sel string) string {
			t.Helper()
			s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
			if err != nil {
				t.Fatalf("text of %s: %v", sel, err)
			}
			return s
		}
		do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			if err := chromedp.Do(ctx, steps...); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		do("open the start page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#identity")))
		at("/login")
		screenshot(t, ctx, "console-login")
		// Keyboard only: the login ID has the focus; typing, then Enter in
		// the password field, submits.
		if focused, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.activeElement.id")); err != nil || focused != "identity" {
			t.Fatalf("focus on the log-on page: %q, %v", focused, err)
		}
		do("a wrong password",
			chromedp.SendKeys(chromedp.CSS("#identity"), "admin"),
			chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password\n"),
			chromedp.WaitVisible(chromedp.CSS("[role=alert]")))
		if msg := text("[role=alert]"); !strings.Contains(strings.ToLower(msg), "password") {
			t.Fatalf("a wrong password says %q", msg)
		}
		screenshot(t, ctx, "console-login-refused")
		do("the right password (the refused page kept the login ID, not the password)",
			chromedp.SendKeys(chromedp.CSS("#password"), procAdminPassword+"\n"),
			chromedp.WaitVisible(chromedp.CSS(".who")))
		if who := text(".who"); !strings.Contains(who, "Signed in as admin (Admin)") {
			t.Fatalf("after log-on: %q", who)
		}
		at("/")
		screenshot(t, ctx, "console-home")
		do("log off",
			chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#identity")),
			chromedp.Navigate(srv.URL+"/"),
			chromedp.WaitVisible(chromedp.CSS("#identity")))
		at("/login")
	})
}
