package main

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"latchkey"
)

// Every field of latchkey.SiteSettings has exactly one flag, in the
// synopsis, and giving it sets that field and no other.
func TestSiteSettingFlags(t *testing.T) {
	fields := siteSettingFields()
	if len(fields) != len(siteSettings) {
		t.Fatalf("%d settings, %d rows in siteSettings: a row names no field", len(fields), len(siteSettings))
	}
	values := map[reflect.Kind]string{reflect.String: "any", reflect.Int: "7", reflect.Bool: "false"}
	synopsis := siteSettingsSynopsis()
	for _, f := range fields {
		if !strings.Contains(synopsis, "[--"+f.flag) {
			t.Errorf("--%s is not in the synopsis %q", f.flag, synopsis)
		}
		var got latchkey.SiteSettings
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		addSiteSettingFlags(fs, &got)
		kind := reflect.TypeFor[latchkey.SiteSettings]().Field(f.index).Type.Elem().Kind()
		if err := fs.Parse([]string{"--" + f.flag + "=" + values[kind]}); err != nil {
			t.Fatalf("--%s: %v", f.flag, err)
		}
		v := reflect.ValueOf(got)
		for i := range v.NumField() {
			if set := !v.Field(i).IsNil(); set != (i == f.index) {
				t.Errorf("--%s: field %d set = %v", f.flag, i, set)
			}
		}
		if s := fmt.Sprint(v.Field(f.index).Elem().Interface()); s != values[kind] {
			t.Errorf("--%s=%s set %s", f.flag, values[kind], s)
		}
	}
	var none latchkey.SiteSettings
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addSiteSettingFlags(fs, &none)
	if err := fs.Parse([]string{"--allow-standalone", "--warning-seconds", "x"}); err == nil {
		t.Error("--warning-seconds x was accepted")
	}
	if none.AllowStandalone == nil || !*none.AllowStandalone {
		t.Errorf("--allow-standalone alone: %v, want true", none.AllowStandalone)
	}
}
