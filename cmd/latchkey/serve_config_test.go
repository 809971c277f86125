package main

import (
	"errors"
	"flag"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	lkhttp "latchkey/http"
)

// TestParseServeFlags: flags and environment into serve's config, and the
// problems that stop it (as usageErr, refusedStart or the flag package's
// error).
func TestParseServeFlags(t *testing.T) {
	// resolved is the config of no flags with dataDir d: the defaults with
	// the store and seal dir under d.
	resolved := func(d string) serveConfig {
		c := defaultServeConfig()
		c.dataDir = d
		c.store = "sqlite://" + d + "/latchkey.db"
		c.sealDir = d + "/seals"
		return c
	}
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want func(c *serveConfig) // changes to resolved("d"); nil with err
		// err is a substring of the error; kind the type it must be:
		// "usage", "refused", "flag" (the flag package's) or "help".
		err, kind string
	}{
		{name: "defaults", args: nil, want: func(c *serveConfig) { *c = resolved("latchkey-data"); c.dataDir = "./latchkey-data" }},
		{name: "data dir places store and seals", args: []string{"--data-dir", "d"}, want: func(*serveConfig) {}},
		{name: "store flag", args: []string{"--data-dir", "d", "--store", "sqlite:///x.db"},
			want: func(c *serveConfig) { c.store = "sqlite:///x.db" }},
		{name: "store from environment", args: []string{"--data-dir", "d"}, env: map[string]string{"LATCHKEY_STORE": "postgres://h/db"},
			want: func(c *serveConfig) { c.store = "postgres://h/db" }},
		{name: "store flag beats environment", args: []string{"--data-dir", "d", "--store", "sqlite:///x.db"},
			env: map[string]string{"LATCHKEY_STORE": "postgres://h/db"}, want: func(c *serveConfig) { c.store = "sqlite:///x.db" }},
		{name: "seal dir", args: []string{"--data-dir", "d", "--seal-dir", "/s"}, want: func(c *serveConfig) { c.sealDir = "/s" }},
		{name: "every scalar flag", args: []string{"--data-dir", "d", "--listen", ":0", "--sweep-interval", "1s",
			"--argon2-time", "1", "--argon2-memory", "64", "--argon2-threads", "2", "--max-failures", "0", "--lockout", "1m",
			"--staff-backoff-max", "0s", "--token-ttl", "1h", "--instruction-lock", "2m",
			"--checkout-warning", "0s", "--reservation-grace", "5m", "--offline-days", "7", "--offline-cap", "9",
			"--pg-committers", "2", "--pg-conns", "8", "--pg-batch-wait", "5ms", "--idempotency-ttl", "1h", "--pprof-listen", "127.0.0.1:6060", "--seal-every", "0s"},
			want: func(c *serveConfig) {
				c.listen, c.sweepInterval, c.argon2Time, c.argon2Memory, c.argon2Threads = ":0", time.Second, 1, 64, 2
				c.maxFailures, c.lockout, c.staffBackoffMax, c.tokenTTL = 0, time.Minute, 0, time.Hour
				c.instructionLock, c.checkoutWarning, c.reservationGrace = 2*time.Minute, 0, 5*time.Minute
				c.offlineDays, c.offlineCap, c.pgCommitters, c.pgConns, c.idempotencyTTL = 7, 9, 2, 8, time.Hour
				c.pgBatchWait = 5 * time.Millisecond
				c.pprofListen, c.sealEvery = "127.0.0.1:6060", 0
			}},
		{name: "node flags", args: []string{"--data-dir", "d", "--advertise", "10.0.0.11:7420", "--heartbeat", "200ms",
			"--node-dead-after", "1s", "--drain-wait", "0s"},
			want: func(c *serveConfig) {
				c.advertise, c.heartbeat, c.nodeDeadAfter, c.drainWait = "10.0.0.11:7420", 200*time.Millisecond, time.Second, 0
			}},
		{name: "managed domains", args: []string{"--data-dir", "d", "--managed-domain", "users=", "--managed-domain", "sites=ops/sites"},
			want: func(c *serveConfig) { delete(c.policy.Managed, "users"); c.policy.Managed["sites"] = "ops/sites" }},
		{name: "tls pair", args: []string{"--data-dir", "d", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
			want: func(c *serveConfig) { c.tls = tlsFlags{cert: "c.pem", key: "k.pem"} }},
		{name: "edge flags", args: []string{"--data-dir", "d", "--read-timeout", "3s", "--max-conns", "5", "--trusted-proxy", "10.0.0.0/8",
			"--login-throttle-identity", "off", "--metrics-public"},
			want: func(c *serveConfig) {
				c.edge.readTimeout, c.edge.maxConns, c.edge.metricsPublic = 3*time.Second, 5, true
				c.edge.proxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
				c.edge.identity, _ = lkhttp.ParseWindow("off")
			}},
		{name: "admin password", args: []string{"--data-dir", "d"}, env: map[string]string{"LATCHKEY_ADMIN_PASSWORD": "a-good-password-1"},
			want: func(c *serveConfig) { c.adminPassword = "a-good-password-1" }},

		{name: "tls cert alone", args: []string{"--tls-cert", "c.pem"}, err: "--tls-cert and --tls-key go together", kind: "usage"},
		{name: "tls key alone", args: []string{"--tls-key", "k.pem"}, err: "--tls-cert and --tls-key go together", kind: "usage"},
		{name: "tls before other checks", args: []string{"--tls-key", "k.pem", "--sweep-interval", "0s"}, err: "--tls-cert and --tls-key go together", kind: "usage"},
		{name: "token file is a client flag", args: []string{"--token-file", "t"}, err: "flag provided but not defined: -token-file", kind: "flag"},
		{name: "positional", args: []string{"extra"}, err: `unexpected argument "extra"`, kind: "usage"},
		{name: "positional after --", args: []string{"--", "--listen"}, err: `unexpected argument "--listen"`, kind: "usage"},
		{name: "help", args: []string{"-h"}, kind: "help"},
		{name: "bad duration", args: []string{"--lockout", "soon"}, err: `invalid value "soon" for flag -lockout`, kind: "flag"},
		{name: "managed domain without =", args: []string{"--managed-domain", "users"}, err: `want DOMAIN=LOCK, got "users"`, kind: "flag"},
		{name: "sweep", args: []string{"--sweep-interval", "0s"}, err: "--sweep-interval must be positive", kind: "usage"},
		{name: "heartbeat", args: []string{"--heartbeat", "0s"}, err: "--heartbeat must be positive and --node-dead-after longer than it", kind: "usage"},
		{name: "dead-after not above heartbeat", args: []string{"--heartbeat", "3s", "--node-dead-after", "3s"},
			err: "--heartbeat must be positive and --node-dead-after longer than it", kind: "usage"},
		{name: "drain wait negative", args: []string{"--drain-wait", "-1s"}, err: "--drain-wait must be 0 to 1m", kind: "usage"},
		{name: "drain wait too long", args: []string{"--drain-wait", "61s"}, err: "--drain-wait must be 0 to 1m", kind: "usage"},
		{name: "token ttl", args: []string{"--token-ttl", "-1h"}, err: "--token-ttl must be positive", kind: "usage"},
		{name: "instruction lock", args: []string{"--instruction-lock", "0s"}, err: "--instruction-lock must be positive", kind: "usage"},
		{name: "redelivery is gone", args: []string{"--redelivery", "1m"}, err: "flag provided but not defined: -redelivery", kind: "flag"},
		{name: "checkout warning", args: []string{"--checkout-warning", "-1s"}, err: "--checkout-warning not negative", kind: "usage"},
		{name: "committers", args: []string{"--pg-committers", "0"}, err: "--pg-committers must be at least 1", kind: "usage"},
		{name: "batch wait", args: []string{"--pg-batch-wait", "1s"}, err: "--pg-batch-wait must be 0s to 100ms", kind: "usage"},
		{name: "conns", args: []string{"--pg-conns", "1"}, err: "--pg-conns must be at least 2 and at least --pg-committers", kind: "usage"},
		{name: "conns below committers", args: []string{"--pg-conns", "3", "--pg-committers", "4"}, err: "--pg-conns must be at least 2 and at least --pg-committers", kind: "usage"},
		{name: "grace", args: []string{"--reservation-grace", "25h"}, err: "--reservation-grace must be 1m to 24h", kind: "usage"},
		{name: "offline", args: []string{"--offline-cap", "100001"}, err: "--offline-days must be 1 to 366", kind: "usage"},
		{name: "max failures", args: []string{"--max-failures", "-1"}, err: "--max-failures must not be negative", kind: "usage"},
		{name: "lockout", args: []string{"--lockout", "0s"}, err: "--lockout must be positive", kind: "usage"},
		{name: "staff backoff", args: []string{"--staff-backoff-max", "-1s"}, err: "--staff-backoff-max must not be negative", kind: "usage"},
		{name: "seal every", args: []string{"--seal-every", "-1s"}, err: "--seal-every must not be negative", kind: "usage"},
		{name: "idempotency", args: []string{"--idempotency-ttl", "1s"}, err: "--idempotency-ttl must be 1m to 720h", kind: "usage"},
		{name: "argon2 range", args: []string{"--argon2-threads", "300"}, err: "argon2 parameters out of range", kind: "usage"},
		{name: "argon2 params", args: []string{"--argon2-time", "0"}, kind: "usage"},
		{name: "edge", args: []string{"--max-streams", "4", "--max-streams-per-token", "8"}, err: "--max-streams and --max-streams-per-token", kind: "usage"},
		{name: "weak admin password", env: map[string]string{"LATCHKEY_ADMIN_PASSWORD": "short"},
			err: "refusing to start: LATCHKEY_ADMIN_PASSWORD must be at least 8 characters long", kind: "refused"},
		{name: "usage problem before weak password", args: []string{"--lockout", "0s"}, env: map[string]string{"LATCHKEY_ADMIN_PASSWORD": "short"},
			err: "--lockout must be positive", kind: "usage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			env := func(k string) string { return tt.env[k] }
			got, err := parseServeFlags(fs, tt.args, env)
			if tt.want != nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				want := resolved("d")
				tt.want(&want)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("config\n got %+v\nwant %+v", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one with %q", err, tt.err)
			}
			var ue usageErr
			var refused refusedStart
			isKind := map[string]bool{
				"usage":   errors.As(err, &ue),
				"refused": errors.As(err, &refused),
				"help":    errors.Is(err, flag.ErrHelp),
			}
			isKind["flag"] = !isKind["usage"] && !isKind["refused"] && !isKind["help"]
			if !isKind[tt.kind] {
				t.Errorf("error %v (%T) is not of kind %s", err, err, tt.kind)
			}
		})
	}
}

// TestServeNodeDefaults: a node beats every second, is dead after 3s of
// silence, drains for 2s and advertises the address it binds.
func TestServeNodeDefaults(t *testing.T) {
	c := defaultServeConfig()
	if c.heartbeat != time.Second || c.nodeDeadAfter != 3*time.Second || c.drainWait != 2*time.Second || c.advertise != "" {
		t.Fatalf("heartbeat %s, node dead after %s, drain wait %s, advertise %q", c.heartbeat, c.nodeDeadAfter, c.drainWait, c.advertise)
	}
}
