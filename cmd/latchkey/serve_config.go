package main

import (
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"latchkey"
	"latchkey/passhash"
	"latchkey/sqlstore"
)

// serveConfig is what 'latchkey serve' runs with: one field per flag, and
// the environment it reads. parseServeFlags fills it; runServer runs it.
type serveConfig struct {
	listen  string // --listen
	dataDir string // --data-dir
	// store is --store; after parseServeFlags, else $LATCHKEY_STORE, else
	// sqlite://DATA-DIR/latchkey.db.
	store         string
	sweepInterval time.Duration // --sweep-interval

	advertise      string        // --advertise; "": the address bound
	heartbeat      time.Duration // --heartbeat
	nodeDeadAfter  time.Duration // --node-dead-after
	drainWait      time.Duration // --drain-wait
	approvalExpiry time.Duration // --approval-timeout

	argon2Time    uint // --argon2-time
	argon2Memory  uint // --argon2-memory, KiB
	argon2Threads uint // --argon2-threads

	maxFailures     int           // --max-failures
	lockout         time.Duration // --lockout
	staffBackoffMax time.Duration // --staff-backoff-max
	tokenTTL        time.Duration // --token-ttl
	// policy is the default config policy with --managed-domain applied.
	policy latchkey.ConfigPolicy

	instructionLock  time.Duration // --instruction-lock
	checkoutWarning  time.Duration // --checkout-warning; 0: never
	reservationGrace time.Duration // --reservation-grace
	offlineDays      int           // --offline-days
	offlineCap       int           // --offline-cap
	pgCommitters     int           // --pg-committers
	pgConns          int           // --pg-conns
	pgBatchWait      time.Duration // --pg-batch-wait; 0: never wait
	idempotencyTTL   time.Duration // --idempotency-ttl
	pprofListen      string        // --pprof-listen; "": off
	sealEvery        time.Duration // --seal-every; 0: off
	// sealDir is --seal-dir; after parseServeFlags, else DATA-DIR/seals.
	sealDir string

	tls  tlsFlags  // --tls-cert, --tls-key (tls.go)
	edge edgeFlags // bounds on clients (serve_edge.go)

	// adminPassword is $LATCHKEY_ADMIN_PASSWORD: the bootstrap admin's
	// password ("": a random one, printed).
	adminPassword string
}

// defaultServeConfig returns serve's defaults: the flags' defaults are
// these.
func defaultServeConfig() serveConfig {
	return serveConfig{
		listen:           "127.0.0.1:7420",
		dataDir:          "./latchkey-data",
		sweepInterval:    5 * time.Second,
		heartbeat:        latchkey.DefaultHeartbeat,
		nodeDeadAfter:    latchkey.DefaultNodeDeadAfter,
		drainWait:        2 * time.Second,
		approvalExpiry:   latchkey.DefaultApprovalTimeout,
		argon2Time:       uint(passhash.Production.Time),
		argon2Memory:     uint(passhash.Production.MemoryKiB),
		argon2Threads:    uint(passhash.Production.Threads),
		maxFailures:      latchkey.DefaultAttemptPolicy.MaxFailures,
		lockout:          latchkey.DefaultAttemptPolicy.LockoutDuration,
		staffBackoffMax:  latchkey.DefaultAttemptPolicy.StaffBackoffMax,
		tokenTTL:         12 * time.Hour,
		policy:           latchkey.DefaultConfigPolicy(),
		instructionLock:  latchkey.DefaultInstructionLock,
		checkoutWarning:  latchkey.DefaultCheckoutWarning,
		reservationGrace: latchkey.DefaultReservationGrace,
		offlineDays:      sqlstore.DefaultOfflineDays,
		offlineCap:       sqlstore.DefaultOfflineCap,
		pgCommitters:     4,
		pgConns:          32,
		pgBatchWait:      sqlstore.DefaultBatchWait,
		idempotencyTTL:   latchkey.DefaultIdempotencyTTL,
		sealEvery:        latchkey.DefaultSealEvery,
		edge:             defaultEdgeFlags(),
	}
}

// addFlags defines serve's flags on fs, into c, with c's values as their
// defaults.
func (c *serveConfig) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.listen, "listen", c.listen, "listen on `ADDR` (port 0 picks a free port)")
	fs.StringVar(&c.dataDir, "data-dir", c.dataDir, "directory `DIR` for the server's files (made 0700 at every start)")
	fs.StringVar(&c.store, "store", c.store, "store `URL`: sqlite://PATH or postgres://... (default $LATCHKEY_STORE, else sqlite://DATA-DIR/latchkey.db; the environment keeps a password out of ps)")
	fs.DurationVar(&c.sweepInterval, "sweep-interval", c.sweepInterval, "how often the cluster applies session timeouts (one node sweeps each interval)")
	fs.StringVar(&c.advertise, "advertise", c.advertise, "the `HOST:PORT` other nodes and operators reach this node at (default: the address it listens on)")
	fs.DurationVar(&c.heartbeat, "heartbeat", c.heartbeat, "how often this node beats into the store")
	fs.DurationVar(&c.nodeDeadAfter, "node-dead-after", c.nodeDeadAfter, "a node silent this long (by the store's clock) is dead")
	fs.DurationVar(&c.drainWait, "drain-wait", c.drainWait, "on SIGTERM, answer /readyz 503 this long before stopping, so a load balancer drains the node")
	fs.DurationVar(&c.approvalExpiry, "approval-timeout", c.approvalExpiry, "an access request not approved or denied in this time expires")
	fs.UintVar(&c.argon2Time, "argon2-time", c.argon2Time, "argon2id passes over memory")
	fs.UintVar(&c.argon2Memory, "argon2-memory", c.argon2Memory, "argon2id memory in `KiB`")
	fs.UintVar(&c.argon2Threads, "argon2-threads", c.argon2Threads, "argon2id lanes")
	fs.IntVar(&c.maxFailures, "max-failures", c.maxFailures, "failed attempts in a row that lock an identity (0 = never)")
	fs.DurationVar(&c.lockout, "lockout", c.lockout, "how long a locked identity stays locked")
	fs.DurationVar(&c.staffBackoffMax, "staff-backoff-max", c.staffBackoffMax, "admins and delegates are locked for 1 s, doubling per further failure up to this, instead of --lockout (0: --lockout for them too)")
	fs.DurationVar(&c.tokenTTL, "token-ttl", c.tokenTTL, "user token lifetime")
	fs.Func("managed-domain", "`DOMAIN=LOCK`: writes of config domain DOMAIN need lock LOCK's token; DOMAIN= unmanages it (repeatable; defaults users=admin/users, trusts=admin/trusts)", c.manageDomain)
	fs.DurationVar(&c.instructionLock, "instruction-lock", c.instructionLock, "how long a delivered instruction's groups stay locked without a reply")
	fs.DurationVar(&c.checkoutWarning, "checkout-warning", c.checkoutWarning, "warn a check-out's holder this long before it ends (0: never)")
	fs.DurationVar(&c.reservationGrace, "reservation-grace", c.reservationGrace, "a reservation whose person has not logged on this long after its start is released")
	fs.IntVar(&c.offlineDays, "offline-days", c.offlineDays, "an offline logon verifier stays in agents' policies this many days after the person's last online logon")
	fs.IntVar(&c.offlineCap, "offline-cap", c.offlineCap, "at most this many offline logon verifiers in one terminal's policy")
	fs.IntVar(&c.pgCommitters, "pg-committers", c.pgCommitters, "PostgreSQL: write transactions (group commits) a node runs at once")
	fs.IntVar(&c.pgConns, "pg-conns", c.pgConns, "PostgreSQL: connections a node keeps at most (plus one for notifications); nodes × (this + 1) must stay below the server's max_connections")
	fs.DurationVar(&c.pgBatchWait, "pg-batch-wait", c.pgBatchWait, "PostgreSQL: while the commits under way hold at least 4 writes, a batch of fewer than 4 writes waits at most this long for more to share its commit (0: never waits)")
	fs.DurationVar(&c.idempotencyTTL, "idempotency-ttl", c.idempotencyTTL, "how long the answer to an Idempotency-Key is kept for replay; an older key is new and the sweeper deletes it (1m to 720h)")
	fs.StringVar(&c.pprofListen, "pprof-listen", c.pprofListen, "serve Go profiles (net/http/pprof) on loopback address `ADDR`; off when empty")
	fs.DurationVar(&c.sealEvery, "seal-every", c.sealEvery, "seal the audit chain's head this often (one seal per period for the whole cluster; 0 = off)")
	fs.StringVar(&c.sealDir, "seal-dir", c.sealDir, "write each seal this node makes in `DIR`, one file per seal (default DATA-DIR/seals; copy them off the machine)")
	c.tls.addFlags(fs)
	c.edge.addFlags(fs)
}

// manageDomain applies one --managed-domain DOMAIN=LOCK (DOMAIN=:
// unmanaged) to the config policy.
func (c *serveConfig) manageDomain(v string) error {
	domain, lock, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want DOMAIN=LOCK, got %q", v)
	}
	if err := latchkey.ValidConfigDomain(domain); err != nil {
		return err
	}
	if lock == "" {
		delete(c.policy.Managed, domain)
		return nil
	}
	if err := latchkey.ValidLockName("lock", lock); err != nil {
		return err
	}
	c.policy.Managed[domain] = lock
	return nil
}

// refusedStart is a reason not to start that is no usage error: serve
// reports it and exits 1.
type refusedStart struct{ err error }

func (r refusedStart) Error() string { return "refusing to start: " + latchkey.ErrorMessage(r.err) }

// parseServeFlags parses serve's arguments, defines its flags on fs
// first, and reads the environment through env ($LATCHKEY_STORE,
// $LATCHKEY_ADMIN_PASSWORD). It returns the config with the store and
// seal dir defaults resolved, or the first problem: the flag package's
// error (flag.ErrHelp for -h), a usageErr, or a refusedStart.
func parseServeFlags(fs *flag.FlagSet, args []string, env func(string) string) (serveConfig, error) {
	c := defaultServeConfig()
	c.addFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return serveConfig{}, err
	}
	if len(pos) > 0 {
		return serveConfig{}, usagef("unexpected argument %q", pos[0])
	}
	if err := c.check(); err != nil {
		return serveConfig{}, err
	}
	// The bootstrap admin's password is held to the rules of every new
	// password: refuse a weak one before anything starts (even when the
	// store already has its admin and the variable would go unused).
	if c.adminPassword = env("LATCHKEY_ADMIN_PASSWORD"); c.adminPassword != "" {
		if err := latchkey.CheckNewPassword("LATCHKEY_ADMIN_PASSWORD", c.adminPassword); err != nil {
			return serveConfig{}, refusedStart{err}
		}
	}
	if c.store == "" {
		c.store = env("LATCHKEY_STORE")
	}
	if c.store == "" {
		c.store = "sqlite://" + filepath.Join(c.dataDir, "latchkey.db")
	}
	if c.sealDir == "" {
		c.sealDir = filepath.Join(c.dataDir, "seals")
	}
	return c, nil
}

// check returns the first flag out of range, as a usageErr.
func (c *serveConfig) check() error {
	if msg := c.tls.check(); msg != "" {
		return usageErr(msg)
	}
	switch {
	case c.sweepInterval <= 0:
		return usagef("--sweep-interval must be positive")
	case c.heartbeat <= 0 || c.nodeDeadAfter <= c.heartbeat:
		return usagef("--heartbeat must be positive and --node-dead-after longer than it")
	case c.drainWait < 0 || c.drainWait > time.Minute:
		return usagef("--drain-wait must be 0 to 1m")
	case c.approvalExpiry < time.Second || c.approvalExpiry > 30*24*time.Hour:
		return usagef("--approval-timeout must be 1s to 720h")
	case c.tokenTTL <= 0:
		return usagef("--token-ttl must be positive")
	case c.instructionLock <= 0 || c.checkoutWarning < 0:
		return usagef("--instruction-lock must be positive, --checkout-warning not negative")
	case c.pgCommitters < 1:
		return usagef("--pg-committers must be at least 1")
	case c.pgConns < 2 || c.pgConns < c.pgCommitters:
		return usagef("--pg-conns must be at least 2 and at least --pg-committers")
	case c.pgBatchWait < 0 || c.pgBatchWait > 100*time.Millisecond:
		return usagef("--pg-batch-wait must be 0s to 100ms")
	case c.reservationGrace < time.Minute || c.reservationGrace > 24*time.Hour:
		return usagef("--reservation-grace must be 1m to 24h")
	case c.offlineDays < 1 || c.offlineDays > 366 || c.offlineCap < 1 || c.offlineCap > 100000:
		return usagef("--offline-days must be 1 to 366 and --offline-cap 1 to 100000")
	case c.maxFailures < 0:
		return usagef("--max-failures must not be negative")
	case c.lockout <= 0:
		return usagef("--lockout must be positive")
	case c.staffBackoffMax < 0:
		return usagef("--staff-backoff-max must not be negative")
	case c.sealEvery < 0:
		return usagef("--seal-every must not be negative (0 turns sealing off)")
	case c.idempotencyTTL < time.Minute || c.idempotencyTTL > 720*time.Hour:
		return usagef("--idempotency-ttl must be 1m to 720h")
	case c.argon2Time > math.MaxUint32 || c.argon2Memory > math.MaxUint32 || c.argon2Threads > math.MaxUint8:
		return usagef("argon2 parameters out of range")
	}
	if err := c.edge.check(); err != nil {
		return usageErr(err.Error())
	}
	if err := c.passwordParams().Validate(); err != nil {
		return usageErr(err.Error())
	}
	return nil
}

// passwordParams are the argon2id parameters of the --argon2 flags.
func (c *serveConfig) passwordParams() passhash.Params {
	p := passhash.Production
	p.Time, p.MemoryKiB, p.Threads = uint32(c.argon2Time), uint32(c.argon2Memory), uint8(c.argon2Threads)
	return p
}
