package latchkey_test

import (
	"reflect"
	"testing"

	"latchkey"
)

// ---- Site.Validate ----

func TestDefaultSite(t *testing.T) {
	t.Parallel()
	s := latchkey.DefaultSite("branch")
	want := latchkey.Site{Name: "branch", Timezone: "UTC", ConcurrencyControls: true, AllowStandalone: true,
		StandaloneAuth: "cached", StandaloneQuotas: "snapshot", WarningSeconds: 60,
		MaxReservationsPerUser: 3, MaxBookingDaysAhead: 14, TransactionOnLock: "pause"}
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
		{"transaction_on_lock complete", func(s *latchkey.Site) { s.TransactionOnLock = "complete" }, ""},
		{"transaction_on_lock unknown", func(s *latchkey.Site) { s.TransactionOnLock = "maybe" }, "transaction_on_lock"},
		{"transaction_on_lock empty", func(s *latchkey.Site) { s.TransactionOnLock = "" }, "transaction_on_lock"},
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
		MaxReservationsPerUser: 6, MaxBookingDaysAhead: 7, TransactionOnLock: "complete",
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
