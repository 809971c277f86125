//go:build linux

package systemd

// The units are checked three ways:
//   - TestUnitsRunTheRealBinary starts `latchkey serve` and then `latchkey
//     agent` with the exact arguments of each unit's ExecStart= and the
//     environment of its Environment= and EnvironmentFile= defaults, only
//     the paths systemd would give (%S, %t, %d) moved to a temporary
//     directory and the addresses to 127.0.0.1: serve must answer /readyz,
//     drain on SIGTERM and exit 0 within the unit's TimeoutStopSec=; the
//     agent must open its gateway socket and exit 0 on SIGTERM likewise.
//   - TestUnitsVerify runs `systemd-analyze verify` on each unit.
//   - TestUnitsSecurity runs `systemd-analyze security --offline=yes` and
//     holds each unit's exposure score to what was measured.
// The last two need systemd-analyze (Debian package systemd); without it
// they skip, unless LATCHKEY_REQUIRE_SYSTEMD_ANALYZE=1.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Each unit's exposure score (systemd-analyze security, systemd 252) may
// not rise above what was measured when the unit was written: a change
// that drops a hardening directive fails here.
var maxExposure = map[string]float64{
	"latchkey-serve.service": 1.1,
	"latchkey-agent.service": 2.0,
}

const installedBinary = "/usr/local/bin/latchkey"

// unit is a unit file's [Service] section: each key's values in order.
type unit map[string][]string

func readUnit(t *testing.T, name string) unit {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		case strings.HasSuffix(line, `\`):
			t.Fatalf("%s: continued lines are not read by this test: %s", name, line)
		case section == "Service":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not KEY=VALUE: %s", name, line)
			}
			u[k] = append(u[k], v)
		}
	}
	return u
}

// one returns the single value of key.
func (u unit) one(t *testing.T, key string) string {
	t.Helper()
	if len(u[key]) != 1 {
		t.Fatalf("want one %s=, have %q", key, u[key])
	}
	return u[key][0]
}

// stopTimeout is TimeoutStopSec= (a Go duration such as 90s).
func (u unit) stopTimeout(t *testing.T) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(u.one(t, "TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	return d
}

// environment is what systemd gives the process: Environment= first, then
// the EnvironmentFile (here the repository's copy), which overrides it.
func (u unit) environment(t *testing.T, envFile string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, v := range u["Environment"] {
		for _, kv := range strings.Fields(v) {
			k, val, _ := strings.Cut(kv, "=")
			env[k] = val
		}
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not VAR=value: %s", envFile, line)
		}
		env[k] = v
	}
	return env
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// argv expands ExecStart= as systemd does for what the units use: the
// specifiers in spec, ${VAR} as one argument (empty if unset), and a
// word that is $VAR alone as the value's words. Every variable must be
// set by the unit or its environment file.
func argv(t *testing.T, execStart string, env, spec map[string]string) []string {
	t.Helper()
	var out []string
	for _, w := range strings.Fields(execStart) {
		if name, ok := strings.CutPrefix(w, "$"); ok && !strings.HasPrefix(name, "{") {
			v, set := env[name]
			if !set {
				t.Fatalf("ExecStart uses $%s, which neither Environment= nor the environment file sets", name)
			}
			out = append(out, strings.Fields(v)...)
			continue
		}
		w = varRef.ReplaceAllStringFunc(w, func(ref string) string {
			name := varRef.FindStringSubmatch(ref)[1]
			v, set := env[name]
			if !set {
				t.Fatalf("ExecStart uses ${%s}, which neither Environment= nor the environment file sets", name)
			}
			return v
		})
		var b strings.Builder
		for i := 0; i < len(w); i++ {
			if w[i] != '%' || i+1 == len(w) {
				b.WriteByte(w[i])
				continue
			}
			i++
			s := string(w[i])
			if s == "%" {
				b.WriteString("%")
				continue
			}
			v, ok := spec[s]
			if !ok {
				t.Fatalf("ExecStart uses specifier %%%s, unknown to this test", s)
			}
			b.WriteString(v)
		}
		out = append(out, b.String())
	}
	if len(out) == 0 || out[0] != installedBinary {
		t.Fatalf("ExecStart runs %q, want %s", out, installedBinary)
	}
	return out
}

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// binary builds latchkey once per test run.
func binary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "latchkey-systemd-test-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "latchkey")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", built.path, "latchkey/cmd/latchkey").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build latchkey/cmd/latchkey: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// process is a started latchkey with its output.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs args[0] replaced by the built binary, with exactly env (and
// PATH), and kills it when the test ends.
func start(t *testing.T, args []string, env map[string]string) *process {
	t.Helper()
	p := &process{done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), args[1:]...)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", strings.Join(args[:2], " "), p.output())
		}
	})
	return p
}

// await waits up to d for a line of the output that re matches, and
// returns its first group.
func (p *process) await(t *testing.T, re string, d time.Duration) string {
	t.Helper()
	rx := regexp.MustCompile(`(?m)` + re)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(p.output()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("exited (%v) before printing /%s/", p.err, re)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("did not print /%s/ within %v", re, d)
	return ""
}

// stop sends SIGTERM and wants exit status 0 within limit.
func (p *process) stop(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("still running %v after SIGTERM (TimeoutStopSec): systemd would SIGKILL it", limit)
	}
	if p.err != nil {
		t.Fatalf("after SIGTERM: %v, want exit status 0", p.err)
	}
	return time.Since(began)
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func readyz(c *http.Client, url string) int {
	resp, err := c.Get(url + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestUnitsRunTheRealBinary starts serve and the agent as their units
// would, talks to both, and stops them as systemd does.
func TestUnitsRunTheRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs latchkey")
	}
	root := t.TempDir()
	spec := map[string]string{
		"S": filepath.Join(root, "var/lib"),
		"t": filepath.Join(root, "run"),
		"d": filepath.Join(root, "credentials"),
	}
	for _, d := range spec {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// serve, with serve.env as shipped but the port picked by the kernel.
	su := readUnit(t, "latchkey-serve.service")
	senv := su.environment(t, "serve.env")
	if senv["LATCHKEY_LISTEN"] != "127.0.0.1:7420" || senv["LATCHKEY_STORE"] != "" {
		t.Fatalf("serve.env's defaults changed (LATCHKEY_LISTEN %q, LATCHKEY_STORE %q): check this test and docs/operations.md",
			senv["LATCHKEY_LISTEN"], senv["LATCHKEY_STORE"])
	}
	senv["LATCHKEY_LISTEN"] = "127.0.0.1:0"
	serve := start(t, argv(t, su.one(t, "ExecStart"), senv, spec), senv)
	password := serve.await(t, `^created principal admin with identity admin; password: (\S+)$`, 20*time.Second)
	serverKey := serve.await(t, `^server key: (\S+) `, 5*time.Second)
	addr := serve.await(t, `^listening on http://(\S+)$`, 20*time.Second)
	if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
		t.Fatalf("serve listens on %q", addr)
	}
	url := "http://" + addr
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for readyz(hc, url) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not answer 200 within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The embedded SQLite store in the state directory, private.
	dataDir := filepath.Join(spec["S"], "latchkey-serve")
	if m := mode(t, dataDir); m != 0o700 {
		t.Errorf("data dir mode %04o, want 0700", m)
	}
	if m := mode(t, filepath.Join(dataDir, "latchkey.db")); m != 0o600 {
		t.Errorf("latchkey.db mode %04o, want 0600", m)
	}

	// A terminal for the agent, through the CLI as an operator makes one.
	cliEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root, "XDG_CONFIG_HOME=" + filepath.Join(root, "config"),
		"LATCHKEY_SERVER=" + url, "LATCHKEY_PASSWORD=" + password}
	cli := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary(t), args...)
		cmd.Env = cliEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("latchkey %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	field := func(out, name string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %s in %q", name, out)
		}
		return m[1]
	}
	cli("auth", "login", "--identity", "admin")
	site := field(cli("site", "create", "--name", "Unit Test"), "id")
	reg := cli("terminal", "register", "--name", "counter 1", "--site", site)
	// LoadCredential= gives the agent a 0400 copy of the token file.
	if err := os.WriteFile(filepath.Join(spec["d"], "terminal-token"), []byte(field(reg, "token")+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}

	// The agent, with agent.env as shipped but this server and its key.
	au := readUnit(t, "latchkey-agent.service")
	aenv := au.environment(t, "agent.env")
	aenv["LATCHKEY_SERVER"] = url
	aenv["LATCHKEY_SERVER_KEY"] = serverKey
	// systemd makes RuntimeDirectory= before the start.
	if err := os.MkdirAll(filepath.Join(spec["t"], au.one(t, "RuntimeDirectory")), 0o750); err != nil {
		t.Fatal(err)
	}
	agent := start(t, argv(t, au.one(t, "ExecStart"), aenv, spec), aenv)
	sock := agent.await(t, `^terminal gateway on (\S+)$`, 20*time.Second)
	agent.await(t, `^agent for \S+ running; server key (\S+)$`, 20*time.Second)
	if want := filepath.Join(spec["t"], "latchkey", "terminal.sock"); sock != want {
		t.Errorf("gateway socket %s, want %s", sock, want)
	}
	if m := mode(t, sock); m != 0o660 {
		t.Errorf("gateway socket mode %04o, want 0660 (the unit's Group= reaches it)", m)
	}
	if m := mode(t, filepath.Join(spec["S"], "latchkey-agent")); m != 0o700 {
		t.Errorf("agent state dir mode %04o, want 0700", m)
	}
	status := cli("terminal", "status", "--socket", sock)
	t.Logf("latchkey terminal status through the unit's socket:\n%s", status)

	took := agent.stop(t, au.stopTimeout(t))
	t.Logf("agent stopped %v after SIGTERM", took.Round(time.Millisecond))

	// SIGTERM: /readyz says 503 while draining, then exit 0 in time.
	if err := serve.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	drained := false
	for !drained && time.Since(began) < 2*time.Second {
		drained = readyz(hc, url) == http.StatusServiceUnavailable
		time.Sleep(10 * time.Millisecond)
	}
	if !drained {
		t.Error("/readyz did not answer 503 while serve drained")
	}
	select {
	case <-serve.done:
	case <-time.After(su.stopTimeout(t) - time.Since(began)):
		t.Fatalf("serve still running %v after SIGTERM (TimeoutStopSec)", su.stopTimeout(t))
	}
	if serve.err != nil {
		t.Fatalf("serve after SIGTERM: %v, want exit status 0", serve.err)
	}
	t.Logf("serve stopped %v after SIGTERM", time.Since(began).Round(time.Millisecond))
}

// systemdAnalyze returns systemd-analyze's path, or skips the test when it
// is missing (fails with LATCHKEY_REQUIRE_SYSTEMD_ANALYZE=1).
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("LATCHKEY_REQUIRE_SYSTEMD_ANALYZE") == "1" {
			t.Fatalf("systemd-analyze is missing (Debian package systemd) and LATCHKEY_REQUIRE_SYSTEMD_ANALYZE=1")
		}
		t.Skip("systemd-analyze is missing (Debian package systemd); LATCHKEY_REQUIRE_SYSTEMD_ANALYZE=1 makes this a failure")
	}
	return p
}

// installedCopies writes each unit into a temporary directory with its
// binary's path pointed at the built binary, and returns their paths.
func installedCopies(t *testing.T) map[string]string {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	out := map[string]string{}
	for name := range maxExposure {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("ExecStart="+installedBinary+" ")) {
			t.Fatalf("%s: ExecStart does not run %s", name, installedBinary)
		}
		b = bytes.ReplaceAll(b, []byte("ExecStart="+installedBinary), []byte("ExecStart="+bin))
		out[name] = filepath.Join(dir, name)
		if err := os.WriteFile(out[name], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func runAnalyze(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemdAnalyze(t), args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestUnitsVerify fails on anything systemd-analyze verify says about a
// unit: an unknown directive, a bad value, a missing binary.
func TestUnitsVerify(t *testing.T) {
	systemdAnalyze(t)
	for name, path := range installedCopies(t) {
		out, err := runAnalyze(t, "verify", path)
		var about []string
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			if strings.Contains(sc.Text(), name) || strings.Contains(sc.Text(), "latchkey") {
				about = append(about, sc.Text())
			} else if sc.Text() != "" {
				t.Logf("systemd-analyze verify %s (not about the unit): %s", name, sc.Text())
			}
		}
		if err != nil || len(about) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, strings.Join(about, "\n"))
		}
	}
}

var overall = regexp.MustCompile(`Overall exposure level for (\S+): ([0-9.]+) (\S+)`)

// TestUnitsSecurity logs each unit's exposure score and holds it to
// maxExposure.
func TestUnitsSecurity(t *testing.T) {
	systemdAnalyze(t)
	if help, _ := runAnalyze(t, "security", "--help"); !strings.Contains(help, "--offline") {
		if os.Getenv("LATCHKEY_REQUIRE_SYSTEMD_ANALYZE") == "1" {
			t.Fatal("this systemd-analyze has no security --offline (systemd 250 or later has)")
		}
		t.Skip("this systemd-analyze has no security --offline (systemd 250 or later has)")
	}
	for name, path := range installedCopies(t) {
		out, err := runAnalyze(t, "security", "--offline=yes", "--no-pager", path)
		m := overall.FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("systemd-analyze security %s: %v\n%s", name, err, out)
		}
		score, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: exposure %.1f %s (at most %.1f)", name, score, m[3], maxExposure[name])
		if score > maxExposure[name] {
			var open []string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "✗") {
					open = append(open, l)
				}
			}
			t.Errorf("%s: exposure %.1f, more than the %.1f measured when it was written: was hardening dropped?\n%s",
				name, score, maxExposure[name], strings.Join(open, "\n"))
		}
	}
}
