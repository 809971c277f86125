package apitest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	lkhttp "latchkey/http"
	"latchkey/httplimit"
	"latchkey/sqlstore"
	"latchkey/sqlstore/sqlstoretest"
)

// checkCounter is the store with a count of the calls that check a
// password: the only calls that hash one.
type checkCounter struct {
	*sqlstore.Store
	checks atomic.Int64
}

func (s *checkCounter) Login(ctx context.Context, login, password string) (*latchkey.UserToken, error) {
	s.checks.Add(1)
	return s.Store.Login(ctx, login, password)
}

func (s *checkCounter) StartSession(ctx context.Context, c latchkey.Caller, id string, r latchkey.LoginRequest) (*latchkey.LoginResult, error) {
	s.checks.Add(1)
	return s.Store.StartSession(ctx, c, id, r)
}

func (s *checkCounter) UnlockSession(ctx context.Context, c latchkey.Caller, id string, r latchkey.UnlockRequest) (*latchkey.Session, error) {
	s.checks.Add(1)
	return s.Store.UnlockSession(ctx, c, id, r)
}

func (s *checkCounter) ChangePassword(ctx context.Context, c latchkey.Caller, login, oldPassword, newPassword string) error {
	s.checks.Add(1)
	return s.Store.ChangePassword(ctx, c, login, oldPassword, newPassword)
}

// serveNode starts another node on store with opts and returns its URL.
func serveNode(t *testing.T, store latchkey.Store, opts lkhttp.Options) string {
	t.Helper()
	lk := lkhttp.NewServer(store, opts)
	srv := httptest.NewServer(lk.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(lk.EndStreams)
	return srv.URL
}

// TestLoginThrottle (hole 6): after 10 failed logons within a minute from
// one address, the next gets 429 rate_limited with Retry-After before any
// password is hashed, even with the right password; the same for a
// terminal's session logon, and for one identity tried from many
// addresses (through a trusted proxy). Fails before the throttle: the
// 11th attempt reaches the store.
func TestLoginThrottle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()

		t.Run("people", func(t *testing.T) {
			cs := &checkCounter{Store: w.store}
			anon := client.New(serveNode(t, cs, lkhttp.Options{}))
			for i := 0; i < 10; i++ {
				_, err := anon.Login(ctx, fmt.Sprint("ghost", i), "wrong-password")
				wantCode(t, err, latchkey.EINVALIDCREDENTIALS)
			}
			_, err := anon.Login(ctx, "alice", "pw-alice")
			wantCode(t, err, latchkey.ERATELIMITED)
			if d := client.RetryAfter(err); d <= 0 || d > time.Minute {
				t.Fatalf("Retry-After %v, want within a minute", d)
			}
			if n := cs.checks.Load(); n != 10 {
				t.Fatalf("%d password checks reached the store, want 10", n)
			}
		})

		t.Run("terminal sessions", func(t *testing.T) {
			cs := &checkCounter{Store: w.store}
			tc := client.New(serveNode(t, cs, lkhttp.Options{}), client.WithToken(w.terms[0].Token))
			for i := 0; i < 10; i++ {
				_, err := tc.StartSession(ctx, w.terms[0].ID, latchkey.LoginRequest{Identity: fmt.Sprint("ghost", i), Password: "wrong-password", TimeSent: w.clock.Now()})
				wantCode(t, err, latchkey.EINVALIDCREDENTIALS)
			}
			_, err := tc.StartSession(ctx, w.terms[0].ID, latchkey.LoginRequest{Identity: "bob", Password: pw("bob"), TimeSent: w.clock.Now()})
			wantCode(t, err, latchkey.ERATELIMITED)
			if n := cs.checks.Load(); n != 10 {
				t.Fatalf("%d password checks reached the store, want 10", n)
			}
			if client.RetryAfter(err) <= 0 {
				t.Fatalf("no Retry-After in %v", err)
			}
		})

		t.Run("one identity from many addresses", func(t *testing.T) {
			cs := &checkCounter{Store: w.store}
			url := serveNode(t, cs, lkhttp.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
			login := func(client string) (int, http.Header) {
				req, _ := http.NewRequest("POST", url+"/v1/auth/login", strings.NewReader(`{"identity":"ghost","password":"wrong-password"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", client)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode, resp.Header
			}
			for i := 0; i < 20; i++ {
				if st, _ := login(fmt.Sprintf("198.51.100.%d", i)); st != 401 {
					t.Fatalf("attempt %d: %d", i+1, st)
				}
			}
			st, h := login("203.0.113.1")
			if secs, err := strconv.Atoi(h.Get("Retry-After")); st != 429 || err != nil || secs < 1 || secs > 15*60 {
				t.Fatalf("21st attempt: %d, Retry-After %q", st, h.Get("Retry-After"))
			}
			if n := cs.checks.Load(); n != 20 {
				t.Fatalf("%d password checks reached the store, want 20", n)
			}
		})
	})
}

// TestEventStreamCaps (hole 7): a token holds at most 8 event streams
// (the 9th gets 429 rate_limited, while another token still gets its
// stream), a node at most --max-streams in all; a closed stream gives its
// place back.
func TestEventStreamCaps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		url := serveNode(t, w.store, lkhttp.Options{MaxStreams: 10})
		admin := client.New(url, client.WithToken(w.admin.Token()))
		var mine []*client.EventStream
		for i := 0; i < 8; i++ {
			mine = append(mine, stream(t, admin))
		}
		ninth := admin.Events(ctx, nil, client.FromNow)
		err := ninth.Connect()
		wantCode(t, err, latchkey.ERATELIMITED)
		var le *latchkey.Error
		if !errors.As(err, &le) || le.Details["scope"] != "token" {
			t.Fatalf("9th stream: %v, want the per-token cap", err)
		}

		term := client.New(url, client.WithToken(w.terms[0].Token))
		stream(t, term) // another token is not held back
		tok, err := client.New(url).Login(ctx, "alice", "pw-alice")
		if err != nil {
			t.Fatal(err)
		}
		stream(t, client.New(url, client.WithToken(tok.Token)))
		err = term.Events(ctx, nil, client.FromNow).Connect() // 11th in all
		wantCode(t, err, latchkey.ERATELIMITED)
		if !errors.As(err, &le) || le.Details["scope"] != "server" {
			t.Fatalf("11th stream: %v, want the server's cap", err)
		}

		mine[0].Close()
		for i := 0; ; i++ {
			s := admin.Events(ctx, nil, client.FromNow)
			err := s.Connect()
			if err == nil {
				s.Close()
				break
			}
			wantCode(t, err, latchkey.ERATELIMITED)
			if i > 250 {
				t.Fatal("a closed stream never gave its place back")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestMetricsToken: /metrics needs an admin or delegate token unless the
// node serves them publicly.
func TestMetricsToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		tok, err := client.New(w.url).Login(context.Background(), "alice", "pw-alice")
		if err != nil {
			t.Fatal(err)
		}
		get := func(url, token string) int {
			req, _ := http.NewRequest("GET", url+"/metrics", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		closed := serveNode(t, w.store, lkhttp.Options{})
		for token, want := range map[string]int{"": 401, w.admin.Token(): 200, tok.Token: 403, w.terms[0].Token: 403} {
			if got := get(closed, token); got != want {
				t.Errorf("token %.8q: %d, want %d", token, got, want)
			}
		}
		open := serveNode(t, w.store, lkhttp.Options{MetricsPublic: true})
		if got := get(open, ""); got != 200 {
			t.Errorf("public metrics: %d", got)
		}
	})
}

// TestStreamOutlivesTimeouts (hole 7): the read and write timeouts that
// cut off slow clients do not end an event stream: one idle for several
// times both still delivers the next event without reconnecting.
func TestStreamOutlivesTimeouts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		lk := lkhttp.NewServer(w.store, lkhttp.Options{WriteTimeout: 200 * time.Millisecond, StreamHeartbeat: 100 * time.Millisecond})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hs := httplimit.Limits{ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}.Server(lk.Handler(), nil)
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
		t.Cleanup(lk.EndStreams)
		url := "http://" + ln.Addr().String()

		s := stream(t, client.New(url, client.WithToken(w.admin.Token())), latchkey.TopicSessions)
		time.Sleep(time.Second) // five times both timeouts
		w.mustLogin(0, "alice", false)
		nextEvent(t, s, 10*time.Second, func(e latchkey.Event) bool { return e.Action == "session.login" })
		if s.Reconnects != 0 {
			t.Fatalf("the stream reconnected %d times: a timeout ended it", s.Reconnects)
		}
	})
}
