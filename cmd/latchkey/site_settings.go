package main

import (
	"flag"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"latchkey"
)

// siteSetting documents the flag of one field of latchkey.SiteSettings,
// keyed by the field's JSON name; the flag's name is that JSON name with
// dashes. The flags, their parsing and the synopsis are all made from
// latchkey.SiteSettings and this table, so a new setting needs one row.
type siteSetting struct {
	metavar string // in the synopsis; BOOL for a bool
	usage   string
}

var siteSettings = map[string]siteSetting{
	"timezone":                  {"TZ", "IANA time zone of the quota day (default UTC)"},
	"concurrency_controls":      {"BOOL", "locked sessions elsewhere do not block a login (false: legacy rule; default true)"},
	"allow_standalone":          {"BOOL", "terminals may run standalone when the server is unreachable (default true)"},
	"standalone_auth":           {"any|cached", "offline logon check: any | cached (default cached)"},
	"standalone_quotas":         {"off|snapshot", "offline quotas: off | snapshot (default snapshot)"},
	"max_session_minutes":       {"N", "longest session, 0 = none (default 0)"},
	"daily_quota_minutes":       {"N", "daily quota per person, 0 = none (default 0)"},
	"inactivity_lock_minutes":   {"N", "lock an idle session after this long, 0 = never (default 0)"},
	"forced_timeout_minutes":    {"N", "end an idle session after this long, 0 = never (default 0)"},
	"warning_seconds":           {"N", "warning before a forced log-off (default 60)"},
	"max_reservations_per_user": {"N", fmt.Sprintf("reservations a user may hold at the site that have not ended, 0 = no cap; staff are exempt (default %d)", latchkey.DefaultMaxReservationsPerUser)},
	"max_booking_days_ahead":    {"N", fmt.Sprintf("how many days ahead a user may book, 0 = no cap; staff are exempt (default %d)", latchkey.DefaultMaxBookingDaysAhead)},
	"transaction_on_lock":       {"pause|complete", "a manual lock during a transaction pauses it, or is refused until it is completed (default pause)"},
}

// siteSettingField is one field of latchkey.SiteSettings.
type siteSettingField struct {
	json, flag string
	index      int
	setting    siteSetting
}

// siteSettingFields lists the fields of latchkey.SiteSettings in order.
func siteSettingFields() []siteSettingField {
	t := reflect.TypeFor[latchkey.SiteSettings]()
	out := make([]siteSettingField, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		s, ok := siteSettings[name]
		if !ok { // caught by TestSiteSettingFlags
			panic("site setting " + name + " has no row in siteSettings")
		}
		out[i] = siteSettingField{json: name, flag: strings.ReplaceAll(name, "_", "-"), index: i, setting: s}
	}
	return out
}

// addSiteSettingFlags defines a flag for every setting; a flag given on
// the command line sets its field of dst, the others stay nil.
func addSiteSettingFlags(fs *flag.FlagSet, dst *latchkey.SiteSettings) {
	v := reflect.ValueOf(dst).Elem()
	for _, f := range siteSettingFields() {
		fs.Var(settingValue{v.Field(f.index)}, f.flag, f.setting.usage)
	}
}

// siteSettingsSynopsis is the settings' part of the site commands'
// synopsis: "[--timezone TZ] [--concurrency-controls=BOOL] ...".
func siteSettingsSynopsis() string {
	var parts []string
	for _, f := range siteSettingFields() {
		sep := " "
		if f.setting.metavar == "BOOL" {
			sep = "="
		}
		parts = append(parts, "[--"+f.flag+sep+f.setting.metavar+"]")
	}
	return strings.Join(parts, " ")
}

// settingValue is the flag.Value of one pointer field: Set allocates the
// value, so a field is set only when its flag is given.
type settingValue struct{ field reflect.Value }

func (s settingValue) String() string {
	if !s.field.IsValid() || s.field.IsNil() {
		return ""
	}
	return fmt.Sprint(s.field.Elem().Interface())
}

func (s settingValue) Set(text string) error {
	v := reflect.New(s.field.Type().Elem())
	switch v.Elem().Kind() {
	case reflect.String:
		v.Elem().SetString(text)
	case reflect.Int:
		n, err := strconv.Atoi(text)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", text)
		}
		v.Elem().SetInt(int64(n))
	case reflect.Bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return fmt.Errorf("%q is not true or false", text)
		}
		v.Elem().SetBool(b)
	default:
		return fmt.Errorf("unsupported setting type %s", v.Elem().Type())
	}
	s.field.Set(v)
	return nil
}

// IsBoolFlag lets a bool setting be given as --allow-standalone alone.
func (s settingValue) IsBoolFlag() bool {
	return s.field.IsValid() && s.field.Type().Elem().Kind() == reflect.Bool
}
