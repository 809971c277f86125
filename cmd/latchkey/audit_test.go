package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/sqlstore/sqlstoretest"
)

// TestAuditSealCLI runs a real server that seals every 100 ms into a seal
// dir, keeps a seal with 'audit seal', exports the log, then rewrites a
// record as someone with write access to the database file would (chain and
// head recomputed): 'audit verify' says ok, 'audit verify --seal' names the
// record.
func TestAuditSealCLI(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LATCHKEY_TOKEN_FILE", filepath.Join(dir, "token"))
	t.Setenv("LATCHKEY_TOKEN", "")
	t.Setenv("LATCHKEY_SERVER", "")
	dataDir, sealDir := filepath.Join(dir, "data"), filepath.Join(dir, "seals")

	t.Setenv("LATCHKEY_SERVER", startServe(t, "--data-dir", dataDir, "--seal-every", "100ms", "--seal-dir", sealDir))
	ctx := context.Background()
	cli := cliRunner(t, ctx)

	t.Setenv("LATCHKEY_PASSWORD", "edge-admin-pw") // startServe's admin
	cli(0, "auth", "login", "--identity", "admin")
	cli(0, "principal", "create", "--name", "Ann", "--role", "user")

	// The periodic sealer writes files by itself.
	deadline := time.Now().Add(20 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(sealDir, "seal-*.json"))
		if len(files) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no seal file written by the periodic sealer")
		}
		time.Sleep(50 * time.Millisecond)
	}

	sealFile := filepath.Join(dir, "kept-seal.json")
	cli(0, "audit", "seal", "--out", sealFile)
	if fi, err := os.Stat(sealFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("seal file: %v %v", fi, err)
	}
	var seal latchkey.AuditSeal
	raw, _ := os.ReadFile(sealFile)
	if err := json.Unmarshal(raw, &seal); err != nil || seal.Verify("") != nil {
		t.Fatalf("seal file %s: %v", raw, err)
	}
	if out := cli(0, "audit", "verify", "--seal", sealFile, "--seal", sealDir, "--server-key", seal.Key); !strings.Contains(out, "audit chain ok") {
		t.Fatalf("verify against the seals: %s", out)
	}

	exportFile := filepath.Join(dir, "audit.jsonl")
	cli(0, "audit", "export", "--out", exportFile)
	lines, _ := os.ReadFile(exportFile)
	n := bytes.Count(lines, []byte("\n"))
	if n < int(seal.Seq) {
		t.Fatalf("exported %d lines, the seal is at %d", n, seal.Seq)
	}
	tail := cli(0, "audit", "export", "--after", "2")
	if first := strings.SplitN(tail, "\n", 2)[0]; !strings.HasPrefix(first, `{"seq":3,`) {
		t.Fatalf("export --after 2 starts with %s", first)
	}

	// Record 2 (the admin's first login) now names someone else; the
	// chain and the head are recomputed.
	sqlstoretest.RewriteAudit(t, "sqlite://"+filepath.Join(dataDir, "latchkey.db"), 2, func(r *latchkey.AuditRecord) { r.Target = "mallory" })
	if out := cli(0, "audit", "verify"); !strings.Contains(out, "audit chain ok") {
		t.Fatalf("plain verify after the rewrite: %s", out)
	}
	out := cli(1, "audit", "verify", "--seal", sealFile)
	if m := regexp.MustCompile(`broken at seq (\d+)`).FindStringSubmatch(out); m == nil || m[1] != strconv.FormatInt(seal.Seq, 10) {
		t.Fatalf("verify --seal after the rewrite: %s", out)
	}
	if !strings.Contains(out, "between 1 and") {
		t.Fatalf("verify --seal does not say where: %s", out)
	}
	out = cli(1, "audit", "verify", "--seal", sealFile, "--kept-export", exportFile)
	if !strings.Contains(out, "broken at seq 2\n") || !strings.Contains(out, "differs from the kept export") {
		t.Fatalf("verify --kept-export after the rewrite: %s", out)
	}
	if out := cli(2, "audit", "verify", "--server-key", seal.Key); !strings.Contains(out, "--server-key needs --seal") {
		t.Fatalf("--server-key alone: %s", out)
	}
	if out := cli(1, "audit", "verify", "--seal", filepath.Join(dir, "token")); !strings.Contains(out, "is not a seal") {
		t.Fatalf("a file that is not a seal: %s", out)
	}
}

func TestAuditSealExportCalls(t *testing.T) {
	line1 := `{"seq":8,"at":"2025-03-01T09:30:00.000000Z","at_us":1740821400000000,"actor":"prn_1","terminal":"","action":"principal.create","target":"prn_2","details":"{}","prev_hash":"a","hash":"b"}`
	line2 := `{"seq":9,"at":"2025-03-01T09:30:00.000000Z","at_us":1740821400000000,"actor":"prn_1","terminal":"","action":"identity.add","target":"ann","details":"{}","prev_hash":"b","hash":"c"}`
	runAll(t, []cliTest{
		{
			name:   "audit seal",
			args:   []string{"audit", "seal", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/audit/seal", auth: userAuth, status: 200, resp: `{"seq":9,"hash":"c","at":"2025-03-01T09:30:00Z","key":"k","signature":"s"}`}},
			code:   0,
			stdout: []string{`"seq": 9`, `"signature": "s"`},
		},
		{
			name:   "audit seal forbidden",
			args:   []string{"audit", "seal", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/audit/seal", auth: userAuth, status: 403, resp: `{"error":{"code":"forbidden","message":"admins only"}}`}},
			code:   1,
			stderr: []string{"latchkey: forbidden: admins only"},
		},
		{
			name:   "audit export after",
			args:   []string{"audit", "export", "--after", "7", "--token", "tok"},
			calls:  []call{{method: "GET", path: "/v1/audit/export", query: "after=7", auth: userAuth, status: 200, resp: line1 + "\n" + line2 + "\n"}},
			code:   0,
			stdout: []string{line1 + "\n" + line2 + "\n"},
		},
		{name: "audit export negative after", args: []string{"audit", "export", "--after", "-1"}, code: 2, stderr: []string{"--after must not be negative"}},
		{name: "audit verify --server-key alone", args: []string{"audit", "verify", "--server-key", "k"}, code: 2, stderr: []string{"--server-key needs --seal"}},
	})
}
