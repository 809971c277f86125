package apitest_test

import (
	"context"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
)

// procAdmin is an admin's API client on a real serve, with the fixtures
// the browser tests make through it: sites, terminals, people whose login
// ID is their name (password pw(name)), and their log-ons at terminals.
type procAdmin struct {
	*client.Client
	t   testing.TB
	srv *proc
}

func adminOf(t testing.TB, srv *proc) procAdmin {
	return procAdmin{Client: srv.adminLogin(t), t: t, srv: srv}
}

func (a procAdmin) site(s client.SiteCreate) *latchkey.Site {
	a.t.Helper()
	site, err := a.CreateSite(context.Background(), s)
	if err != nil {
		a.t.Fatal(err)
	}
	return site
}

func (a procAdmin) terminal(site, name string) *latchkey.Terminal {
	a.t.Helper()
	term, err := a.RegisterTerminal(context.Background(), name, site)
	if err != nil {
		a.t.Fatal(err)
	}
	return term
}

func (a procAdmin) person(p latchkey.Principal) *latchkey.Principal {
	a.t.Helper()
	made, err := a.CreatePrincipal(context.Background(), p)
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.AddIdentity(context.Background(), made.ID, p.Name, pw(p.Name)); err != nil {
		a.t.Fatal(err)
	}
	return made
}

// user is a person with the role user.
func (a procAdmin) user(name string) *latchkey.Principal {
	return a.person(latchkey.Principal{Name: name, Role: latchkey.RoleUser})
}

// logOnAt logs login on at term, through the terminal's own token.
func (a procAdmin) logOnAt(term *latchkey.Terminal, login string) *latchkey.LoginResult {
	a.t.Helper()
	r, err := client.New(a.srv.URL, client.WithToken(term.Token)).StartSession(context.Background(), term.ID,
		latchkey.LoginRequest{Identity: login, Password: pw(login), TimeSent: time.Now()})
	if err != nil {
		a.t.Fatalf("log %s on at %s: %v", login, term.Name, err)
	}
	return r
}
