package latchkey_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Site.Validate loads IANA zones; do not depend on the host's zoneinfo

	"latchkey"
)

// ---- ValidName ----

func TestValidName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"plain", "Alice", true},
		{"one char", "a", true},
		{"inner and outer spaces", "  Anne Marie  ", true},
		{"SQL metacharacters are data", "Robert'); DROP TABLE principals;--", true},
		{"shell metacharacters are data", "$(rm -rf /) `x` | & ; > <", true},
		{"quotes and backslashes", `O'Brien "\n" \\`, true},
		{"path-like", "admin/users", true},
		{"unicode letters", "Zoë Ångström 王小明", true},
		{"emoji", "🔒 latch", true},
		{"exactly MaxNameLen ASCII", strings.Repeat("a", latchkey.MaxNameLen), true},
		{"exactly MaxNameLen multi-byte runes", strings.Repeat("é", latchkey.MaxNameLen), true},
		{"exactly MaxNameLen 4-byte runes", strings.Repeat("😀", latchkey.MaxNameLen), true},
		{"empty", "", false},
		{"one space", " ", false},
		{"spaces only", "     ", false},
		{"tabs and newlines only", "\t\n \r", false},
		{"MaxNameLen+1 ASCII", strings.Repeat("a", latchkey.MaxNameLen+1), false},
		{"MaxNameLen+1 multi-byte runes", strings.Repeat("é", latchkey.MaxNameLen+1), false},
		{"newline", "ali\nce", false},
		{"trailing newline", "alice\n", false},
		{"carriage return", "ali\rce", false},
		{"tab inside", "ali\tce", false},
		{"NUL", "ali\x00ce", false},
		{"DEL", "ali\x7fce", false},
		{"ESC", "\x1b[31mred", false},
		{"C1 control NEL", "ali\u0085ce", false},
		{"invalid UTF-8", "ali\xffce", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := latchkey.ValidName("login", c.in)
			if c.ok {
				wantCode(t, err, "")
				return
			}
			wantCode(t, err, latchkey.EBADREQUEST)
			if got := detail(t, err, "field"); got != "login" {
				t.Fatalf("details.field = %#v, want login", got)
			}
		})
	}
}

// ---- Site.Validate ----

func TestDefaultSite(t *testing.T) {
	t.Parallel()
	s := latchkey.DefaultSite("branch")
	want := latchkey.Site{Name: "branch", Timezone: "UTC", ConcurrencyControls: true, AllowStandalone: true,
		StandaloneAuth: "cached", StandaloneQuotas: "snapshot", WarningSeconds: 60,
		MaxReservationsPerUser: 3, MaxBookingDaysAhead: 14}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("DefaultSite = %+v, want the API defaults %+v", s, want)
	}
}

func TestSiteValidate(t *testing.T) {
	t.Parallel()
	const maxMinutes = 10 * 366 * 24 * 60
	cases := []struct {
		name      string
		f         func(s *latchkey.Site)
		wantField string // "" = valid
	}{
		{"default", func(s *latchkey.Site) {}, ""},
		{"Europe/London", func(s *latchkey.Site) { s.Timezone = "Europe/London" }, ""},
		{"America/Argentina/Buenos_Aires", func(s *latchkey.Site) { s.Timezone = "America/Argentina/Buenos_Aires" }, ""},
		{"standalone_auth any", func(s *latchkey.Site) { s.StandaloneAuth = "any" }, ""},
		{"standalone_quotas off", func(s *latchkey.Site) { s.StandaloneQuotas = "off" }, ""},
		{"legacy, no standalone", func(s *latchkey.Site) { s.ConcurrencyControls, s.AllowStandalone = false, false }, ""},
		{"all limits set", func(s *latchkey.Site) {
			s.MaxSessionMinutes, s.DailyQuotaMinutes, s.InactivityLockMinutes, s.ForcedTimeoutMinutes, s.WarningSeconds = 480, 600, 5, 74, 0
		}, ""},
		{"limits at their maximum", func(s *latchkey.Site) {
			s.MaxSessionMinutes, s.DailyQuotaMinutes, s.InactivityLockMinutes, s.ForcedTimeoutMinutes, s.WarningSeconds =
				maxMinutes, maxMinutes, maxMinutes, maxMinutes, maxMinutes
		}, ""},
		{"name with SQL metacharacters", func(s *latchkey.Site) { s.Name = "Bob's; DROP TABLE sites;--" }, ""},

		{"empty name", func(s *latchkey.Site) { s.Name = "" }, "name"},
		{"blank name", func(s *latchkey.Site) { s.Name = "  " }, "name"},
		{"name with newline", func(s *latchkey.Site) { s.Name = "a\nb" }, "name"},
		{"timezone Mars/Olympus", func(s *latchkey.Site) { s.Timezone = "Mars/Olympus" }, "timezone"},
		{"timezone empty", func(s *latchkey.Site) { s.Timezone = "" }, "timezone"},
		{"timezone Local", func(s *latchkey.Site) { s.Timezone = "Local" }, "timezone"},
		{"timezone path traversal", func(s *latchkey.Site) { s.Timezone = "../../etc/passwd" }, "timezone"},
		{"timezone offset", func(s *latchkey.Site) { s.Timezone = "+01:00" }, "timezone"},
		{"standalone_auth empty", func(s *latchkey.Site) { s.StandaloneAuth = "" }, "standalone_auth"},
		{"standalone_auth bad", func(s *latchkey.Site) { s.StandaloneAuth = "none" }, "standalone_auth"},
		{"standalone_auth case", func(s *latchkey.Site) { s.StandaloneAuth = "Cached" }, "standalone_auth"},
		{"standalone_quotas empty", func(s *latchkey.Site) { s.StandaloneQuotas = "" }, "standalone_quotas"},
		{"standalone_quotas bad", func(s *latchkey.Site) { s.StandaloneQuotas = "on" }, "standalone_quotas"},
		{"standalone_quotas swapped enum", func(s *latchkey.Site) { s.StandaloneQuotas = "cached" }, "standalone_quotas"},
		{"standalone_auth swapped enum", func(s *latchkey.Site) { s.StandaloneAuth = "snapshot" }, "standalone_auth"},
		{"negative max_session_minutes", func(s *latchkey.Site) { s.MaxSessionMinutes = -1 }, "max_session_minutes"},
		{"negative daily_quota_minutes", func(s *latchkey.Site) { s.DailyQuotaMinutes = -1 }, "daily_quota_minutes"},
		{"negative inactivity_lock_minutes", func(s *latchkey.Site) { s.InactivityLockMinutes = -5 }, "inactivity_lock_minutes"},
		{"negative forced_timeout_minutes", func(s *latchkey.Site) { s.ForcedTimeoutMinutes = -74 }, "forced_timeout_minutes"},
		{"negative warning_seconds", func(s *latchkey.Site) { s.WarningSeconds = -60 }, "warning_seconds"},
		{"huge max_session_minutes", func(s *latchkey.Site) { s.MaxSessionMinutes = maxMinutes + 1 }, "max_session_minutes"},
		{"huge daily_quota_minutes", func(s *latchkey.Site) { s.DailyQuotaMinutes = maxMinutes + 1 }, "daily_quota_minutes"},
		{"huge inactivity_lock_minutes", func(s *latchkey.Site) { s.InactivityLockMinutes = maxMinutes + 1 }, "inactivity_lock_minutes"},
		{"huge forced_timeout_minutes", func(s *latchkey.Site) { s.ForcedTimeoutMinutes = 1 << 40 }, "forced_timeout_minutes"},
		{"huge warning_seconds", func(s *latchkey.Site) { s.WarningSeconds = maxMinutes + 1 }, "warning_seconds"},
		{"no booking caps", func(s *latchkey.Site) { s.MaxReservationsPerUser, s.MaxBookingDaysAhead = 0, 0 }, ""},
		{"booking caps at their maximum", func(s *latchkey.Site) { s.MaxReservationsPerUser, s.MaxBookingDaysAhead = 1000, 3660 }, ""},
		{"negative max_reservations_per_user", func(s *latchkey.Site) { s.MaxReservationsPerUser = -1 }, "max_reservations_per_user"},
		{"huge max_reservations_per_user", func(s *latchkey.Site) { s.MaxReservationsPerUser = 1001 }, "max_reservations_per_user"},
		{"negative max_booking_days_ahead", func(s *latchkey.Site) { s.MaxBookingDaysAhead = -1 }, "max_booking_days_ahead"},
		{"huge max_booking_days_ahead", func(s *latchkey.Site) { s.MaxBookingDaysAhead = 3661 }, "max_booking_days_ahead"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := latchkey.DefaultSite("Main Street")
			c.f(&s)
			err := s.Validate()
			if c.wantField == "" {
				wantCode(t, err, "")
				return
			}
			wantCode(t, err, latchkey.EBADREQUEST)
			if got := detail(t, err, "field"); got != c.wantField {
				t.Fatalf("details.field = %#v, want %q", got, c.wantField)
			}
		})
	}
}

// ---- SiteUpdate.Apply ----

func baseSite() latchkey.Site {
	return latchkey.Site{
		ID: "site-1", Name: "Main Street", Timezone: "Europe/London",
		ConcurrencyControls: true, AllowStandalone: false,
		StandaloneAuth: "cached", StandaloneQuotas: "snapshot",
		MaxSessionMinutes: 1, DailyQuotaMinutes: 2, InactivityLockMinutes: 3, ForcedTimeoutMinutes: 4, WarningSeconds: 5,
		MaxReservationsPerUser: 6, MaxBookingDaysAhead: 7,
		CreatedAt: t0,
	}
}

func TestSiteUpdateApplyEmpty(t *testing.T) {
	t.Parallel()
	b := baseSite()
	if got := (latchkey.SiteUpdate{}).Apply(b); !reflect.DeepEqual(got, b) {
		t.Fatalf("empty update changed the site:\n got  %+v\n want %+v", got, b)
	}
}

// Each SiteUpdate field, set alone, changes exactly the Site field of the
// same name, both to a new value and to its zero value.
func TestSiteUpdateApplyEachField(t *testing.T) {
	t.Parallel()
	for i, f := range reflect.VisibleFields(reflect.TypeOf(latchkey.SiteUpdate{})) {
		if f.Anonymous {
			continue // the embedded SiteSettings: its fields are visited one by one
		}
		for _, zero := range []bool{false, true} {
			if zero && f.Type.Elem().Kind() == reflect.Bool {
				continue // the non-zero case flips the bool, which covers false too
			}
			name := f.Name
			if zero {
				name += "/zero"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := baseSite()
				sf := reflect.ValueOf(&b).Elem().FieldByName(f.Name)
				if !sf.IsValid() {
					t.Fatalf("SiteUpdate.%s has no Site field of that name", f.Name)
				}
				// A value distinct from the base and from every other field.
				nv := reflect.New(f.Type.Elem()).Elem()
				if !zero {
					switch nv.Kind() {
					case reflect.String:
						nv.SetString("new-" + f.Name)
					case reflect.Int:
						nv.SetInt(int64(1000 + i))
					case reflect.Bool:
						nv.SetBool(!sf.Bool())
					default:
						t.Fatalf("unexpected kind %s", nv.Kind())
					}
				}
				var u latchkey.SiteUpdate
				p := reflect.New(f.Type.Elem())
				p.Elem().Set(nv)
				reflect.ValueOf(&u).Elem().FieldByIndex(f.Index).Set(p)

				got := u.Apply(b)
				want := baseSite()
				reflect.ValueOf(&want).Elem().FieldByName(f.Name).Set(nv)
				if reflect.DeepEqual(want, baseSite()) {
					t.Fatalf("test value for %s equals the base value", f.Name)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("Apply with only %s set:\n got  %+v\n want %+v", f.Name, got, want)
				}
			})
		}
	}
}

func TestSiteUpdateApplySeveral(t *testing.T) {
	t.Parallel()
	b := baseSite()
	u := latchkey.SiteUpdate{SiteSettings: latchkey.SiteSettings{Timezone: ptr("UTC"), ConcurrencyControls: ptr(false), ForcedTimeoutMinutes: ptr(74)}}
	got := u.Apply(b)
	want := b
	want.Timezone, want.ConcurrencyControls, want.ForcedTimeoutMinutes = "UTC", false, 74
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(b, baseSite()) {
		t.Fatal("Apply modified its argument")
	}
}

// ---- Error helpers ----

func TestErrorCode(t *testing.T) {
	t.Parallel()
	e := latchkey.Errorf(latchkey.ECONFLICT, "boom %d", 7)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain error", errors.New("disk on fire"), latchkey.EINTERNAL},
		{"fmt error", fmt.Errorf("x: %d", 1), latchkey.EINTERNAL},
		{"coded", e, latchkey.ECONFLICT},
		{"wrapped coded", fmt.Errorf("x: %w", e), latchkey.ECONFLICT},
		{"doubly wrapped coded", fmt.Errorf("y: %w", fmt.Errorf("x: %w", e)), latchkey.ECONFLICT},
		{"joined", errors.Join(errors.New("a"), latchkey.Errorf(latchkey.ENOTFOUND, "nf")), latchkey.ENOTFOUND},
		{"with details", e.With("k", 1), latchkey.ECONFLICT},
		{"bad field", latchkey.BadField("f", "bad"), latchkey.EBADREQUEST},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := latchkey.ErrorCode(c.err); got != c.want {
				t.Fatalf("ErrorCode = %q, want %q", got, c.want)
			}
		})
	}
}

func TestErrorMessageAndDetails(t *testing.T) {
	t.Parallel()
	e := latchkey.Errorf(latchkey.EFORBIDDEN, "not yours: %s", "s1").With("who", "p1")
	if got := e.Error(); got != "forbidden: not yours: s1" {
		t.Fatalf("Error() = %q", got)
	}
	if got := latchkey.ErrorMessage(fmt.Errorf("ctx: %w", e)); got != "not yours: s1" {
		t.Fatalf("ErrorMessage = %q", got)
	}
	if got := latchkey.ErrorMessage(errors.New("password=hunter2 leaked")); got != "internal error" || strings.Contains(got, "hunter2") {
		t.Fatalf("ErrorMessage of an internal error = %q, must be generic", got)
	}
	if d := latchkey.ErrorDetails(fmt.Errorf("ctx: %w", e)); d["who"] != "p1" {
		t.Fatalf("ErrorDetails = %#v", d)
	}
	if d := latchkey.ErrorDetails(errors.New("x")); d != nil {
		t.Fatalf("ErrorDetails of an internal error = %#v, want nil", d)
	}
	if d := latchkey.ErrorDetails(nil); d != nil {
		t.Fatalf("ErrorDetails(nil) = %#v", d)
	}
	bf := latchkey.BadField("events[3].reason", "bad %s", "reason")
	if bf.Code != latchkey.EBADREQUEST || bf.Message != "bad reason" || bf.Details["field"] != "events[3].reason" {
		t.Fatalf("BadField = %+v", bf)
	}
}

func TestErrorWithCopies(t *testing.T) {
	t.Parallel()
	orig := latchkey.Errorf(latchkey.ECONFLICT, "c")
	a := orig.With("a", 1)
	if orig.Details != nil {
		t.Fatalf("With changed the original's details: %#v", orig.Details)
	}
	b := a.With("b", 2)
	if _, ok := a.Details["b"]; ok {
		t.Fatalf("With changed its receiver's details: %#v", a.Details)
	}
	if b.Details["a"] != 1 || b.Details["b"] != 2 || len(b.Details) != 2 {
		t.Fatalf("With lost details: %#v", b.Details)
	}
	c := b.With("a", 3)
	if b.Details["a"] != 1 || c.Details["a"] != 3 {
		t.Fatalf("overwrite leaked: b %#v c %#v", b.Details, c.Details)
	}
	if a == orig || b == a || c.Code != orig.Code || c.Message != orig.Message {
		t.Fatal("With must return a new error with the same code and message")
	}
	// Mutating the copy's map does not reach the original either.
	c.Details["z"] = true
	if _, ok := b.Details["z"]; ok {
		t.Fatal("copies share their details map")
	}
}

// ---- small helpers of latchkey.go ----

func TestValidPrincipalRole(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    latchkey.Role
		want bool
	}{
		{latchkey.RoleAdmin, true}, {latchkey.RoleDelegate, true}, {latchkey.RoleUser, true},
		{latchkey.RoleTerminal, false}, {"", false}, {"root", false}, {"Admin", false},
	} {
		if got := latchkey.ValidPrincipalRole(c.r); got != c.want {
			t.Errorf("ValidPrincipalRole(%q) = %v, want %v", c.r, got, c.want)
		}
	}
}

func TestCaller(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		c         latchkey.Caller
		wantStaff bool
		wantActor string
	}{
		{"admin", latchkey.Caller{Role: latchkey.RoleAdmin, PrincipalID: "p1"}, true, "p1"},
		{"delegate", latchkey.Caller{Role: latchkey.RoleDelegate, PrincipalID: "p2"}, true, "p2"},
		{"user", latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: "p3"}, false, "p3"},
		{"terminal", latchkey.Caller{Role: latchkey.RoleTerminal, TerminalID: "t1"}, false, "t1"},
		{"principal wins over terminal", latchkey.Caller{Role: latchkey.RoleUser, PrincipalID: "p4", TerminalID: "t2"}, false, "p4"},
		{"system", latchkey.Caller{}, false, "system"},
	} {
		if got := c.c.IsStaff(); got != c.wantStaff {
			t.Errorf("%s: IsStaff = %v, want %v", c.name, got, c.wantStaff)
		}
		if got := c.c.Actor(); got != c.wantActor {
			t.Errorf("%s: Actor = %q, want %q", c.name, got, c.wantActor)
		}
	}
}

func TestPageNormalize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want int }{
		{-1, latchkey.DefaultPageLimit}, {0, latchkey.DefaultPageLimit}, {1, 1}, {50, 50},
		{latchkey.MaxPageLimit, latchkey.MaxPageLimit}, {latchkey.MaxPageLimit + 1, latchkey.MaxPageLimit}, {1 << 30, latchkey.MaxPageLimit},
	} {
		got := latchkey.Page{Limit: c.in, After: "cur"}.Normalize()
		if got.Limit != c.want || got.After != "cur" {
			t.Errorf("Normalize(%d) = %+v, want limit %d and After kept", c.in, got, c.want)
		}
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := latchkey.NewID("ses")
		if !strings.HasPrefix(id, "ses_") {
			t.Fatalf("NewID = %q, want prefix ses_", id)
		}
		if err := latchkey.ValidName("id", id); err != nil {
			t.Fatalf("NewID %q is not a valid name: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
	a := latchkey.NewID("x")
	time.Sleep(2 * time.Millisecond)
	b := latchkey.NewID("x")
	if !(a[:14] < b[:14]) {
		t.Fatalf("NewID not time-ordered: %q then %q", a, b)
	}
}
