package apitest_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"latchkey"
	"latchkey/client"
	lkhttp "latchkey/http"
	"latchkey/sqlstore/sqlstoretest"
)

// outsideVerify is an outside program's check of an export, written from
// the hash rule in docs/security.md alone: it uses none of latchkey's code
// or types, only the JSON lines. It returns the last seq and hash, or the
// first line that does not verify.
func outsideVerify(t *testing.T, export string, prev string, next int64) (int64, string, error) {
	t.Helper()
	u64 := func(h interface{ Write([]byte) (int, error) }, n uint64) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], n)
		h.Write(b[:])
	}
	sc := bufio.NewScanner(strings.NewReader(export))
	sc.Buffer(nil, 1<<22)
	last := next - 1
	for sc.Scan() {
		var l struct {
			Seq      int64  `json:"seq"`
			AtUS     int64  `json:"at_us"`
			Actor    string `json:"actor"`
			Terminal string `json:"terminal"`
			Action   string `json:"action"`
			Target   string `json:"target"`
			Details  string `json:"details"`
			PrevHash string `json:"prev_hash"`
			Hash     string `json:"hash"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return 0, "", err
		}
		h := sha256.New()
		field := func(s string) { u64(h, uint64(len(s))); h.Write([]byte(s)) }
		field(l.PrevHash)
		u64(h, uint64(l.Seq))
		u64(h, uint64(l.AtUS))
		field(l.Actor)
		field(l.Terminal)
		field(l.Action)
		field(l.Target)
		field(l.Details)
		if l.Seq != last+1 || l.PrevHash != prev || hex.EncodeToString(h.Sum(nil)) != l.Hash || !json.Valid([]byte(l.Details)) {
			return 0, "", fmt.Errorf("line of seq %d does not verify", l.Seq)
		}
		last, prev = l.Seq, l.Hash
	}
	return last, prev, sc.Err()
}

// outsideCheckSeal checks a seal's signature from the documented message
// alone.
func outsideCheckSeal(t *testing.T, raw string) (seq int64, hash string) {
	t.Helper()
	var s struct {
		Seq       int64  `json:"seq"`
		Hash      string `json:"hash"`
		At        string `json:"at"`
		Key       string `json:"key"`
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339Nano, s.At)
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprintf("latchkey audit seal v1\nseq=%d\nhash=%s\nat=%d\n", s.Seq, s.Hash, at.UnixMicro())
	key, _ := base64.StdEncoding.DecodeString(s.Key)
	sig, _ := base64.StdEncoding.DecodeString(s.Signature)
	if len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, []byte(msg), sig) {
		t.Fatalf("seal %s does not verify by the documented rule", raw)
	}
	return s.Seq, s.Hash
}

// TestAuditExportOutsideVerification: the export, read over plain HTTP, is
// verified by a program that knows only the documented rule, and so is a
// seal of its head; --after gives the tail, which continues the chain.
func TestAuditExportOutsideVerification(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		w.person(`Ünïcødé <b>&amp; "quoted" \`, false, "uni") // details that a re-encoding would change
		w.mustLogin(0, "alice", false)
		st, seal := w.adminRaw("GET", "/v1/audit/seal", "")
		if st != http.StatusOK {
			t.Fatalf("seal: %d %s", st, seal)
		}
		sealSeq, sealHash := outsideCheckSeal(t, seal)
		st, export := w.adminRaw("GET", "/v1/audit/export", "")
		if st != http.StatusOK {
			t.Fatalf("export: %d %s", st, export)
		}
		last, hash, err := outsideVerify(t, export, strings.Repeat("0", 64), 1)
		if err != nil || last < sealSeq || last < 8 {
			t.Fatalf("outside verification: last %d, %v", last, err)
		}
		if !strings.Contains(export, "Ünïcødé") {
			t.Fatalf("the export lacks the principal's name: %s", export)
		}
		// The record at the seal's seq has the sealed hash.
		var atSeal string
		for _, line := range strings.Split(strings.TrimSpace(export), "\n") {
			var l struct {
				Seq  int64  `json:"seq"`
				Hash string `json:"hash"`
			}
			json.Unmarshal([]byte(line), &l)
			if l.Seq == sealSeq {
				atSeal = l.Hash
			}
		}
		if atSeal != sealHash {
			t.Fatalf("record %d hashes to %s, the seal says %s", sealSeq, atSeal, sealHash)
		}
		// The tail after 4 continues from record 4's hash.
		lines := strings.SplitN(export, "\n", 5)
		var fourth struct {
			Hash string `json:"hash"`
		}
		json.Unmarshal([]byte(lines[3]), &fourth)
		st, tail := w.adminRaw("GET", "/v1/audit/export?after=4", "")
		if st != http.StatusOK {
			t.Fatalf("export after 4: %d %s", st, tail)
		}
		tailLast, tailHash, err := outsideVerify(t, tail, fourth.Hash, 5)
		if err != nil || tailLast != last || tailHash != hash {
			t.Fatalf("tail: last %d hash %s, %v; want %d %s", tailLast, tailHash, err, last, hash)
		}
		// The outside check is not a rubber stamp: a changed line fails.
		if _, _, err := outsideVerify(t, strings.Replace(export, `"actor":"system"`, `"actor":"mallory"`, 1), strings.Repeat("0", 64), 1); err == nil {
			t.Fatal("the outside verifier took a changed line")
		}
	})
}

// TestSealerWritesFiles: the periodic sealer, run by the injected clock,
// writes each seal it makes to the seal directory (0600, named by seq) and
// to the audit log, and makes none while nothing happened.
func TestSealerWritesFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		w := newWorld(t, b, client.SiteCreate{}, 1)
		ctx := context.Background()
		srv := lkhttp.NewServer(w.store, lkhttp.Options{})
		dir := filepath.Join(t.TempDir(), "seals")
		step := func(want bool) *latchkey.AuditSeal {
			t.Helper()
			s, err := srv.SealStep(ctx, time.Hour, dir)
			if err != nil || (s != nil) != want {
				t.Fatalf("seal step: %+v %v, want a seal: %v", s, err, want)
			}
			return s
		}
		first := step(true)
		step(false)
		w.clock.Advance(3 * time.Hour)
		step(false) // only the seal's own record since
		w.mustLogin(0, "alice", false)
		step(true)
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 2 {
			t.Fatalf("seal dir: %v %v", entries, err)
		}
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
			t.Errorf("seal dir mode %v", fi.Mode().Perm())
		}
		var seals []latchkey.AuditSeal
		for _, e := range entries {
			fi, _ := e.Info()
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", e.Name(), fi.Mode().Perm())
			}
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			var s latchkey.AuditSeal
			if err := json.Unmarshal(raw, &s); err != nil || s.Verify(first.Key) != nil || e.Name() != lkhttp.SealFileName(s.Seq) {
				t.Fatalf("%s: %+v %v", e.Name(), s, err)
			}
			seals = append(seals, s)
		}
		if seals[0].Seq != first.Seq {
			t.Fatalf("first file seals %d, want %d", seals[0].Seq, first.Seq)
		}
		if v, err := w.admin.VerifyAuditSeals(ctx, seals, first.Key); err != nil || !v.OK || v.SealMatched != seals[1].Seq {
			t.Fatalf("chain against the written seals: %+v %v", v, err)
		}
		recs, _, err := w.admin.ListAudit(ctx, latchkey.AuditFilter{Action: "audit.seal"})
		if err != nil || len(recs) != 2 {
			t.Fatalf("audit.seal records: %d %v", len(recs), err)
		}
	})
}
