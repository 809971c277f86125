package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"latchkey"
)

// ListAudit calls GET /v1/audit with f's filters (zero values are left
// out); next is the cursor of the following page ("" at the end): pass it
// back, parsed, as f.After (oldest first) or f.Before (f.Newest).
func (c *Client) ListAudit(ctx context.Context, f latchkey.AuditFilter) ([]latchkey.AuditRecord, string, error) {
	q := f.Query()
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out list[latchkey.AuditRecord]
	if err := c.list(ctx, "/v1/audit", q, &out); err != nil {
		return nil, "", err
	}
	return out.Items, string(out.Next), nil
}

// VerifyAudit calls GET /v1/audit/verify (admin): it checks the audit log's
// hash chain. A broken chain is not an error: it is OK false with
// FirstBadSeq set.
func (c *Client) VerifyAudit(ctx context.Context) (*latchkey.AuditVerification, error) {
	var out latchkey.AuditVerification
	if err := c.do(ctx, http.MethodGet, "/v1/audit/verify", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditSeal calls GET /v1/audit/seal (admin): the chain's head signed with
// the server's key, to be kept outside latchkey.
func (c *Client) AuditSeal(ctx context.Context) (*latchkey.AuditSeal, error) {
	var out latchkey.AuditSeal
	if err := c.do(ctx, http.MethodGet, "/v1/audit/seal", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// maxAuditLine bounds one line of an audit export.
const maxAuditLine = 4 << 20

// ExportAudit calls GET /v1/audit/export?after=SEQ (admin) and calls fn for
// each line as it arrives (the export is never held in memory whole). An
// error from fn stops the export and is returned; so is a stream cut short.
func (c *Client) ExportAudit(ctx context.Context, after int64, fn func(latchkey.AuditLine) error) error {
	const path = "/v1/audit/export"
	u := c.BaseURL() + path + "?after=" + strconv.FormatInt(after, 10)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops reading a body fn gave up on
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/x-ndjson, application/json")
	req.Header.Set("User-Agent", "latchkey-client/1")
	if tok := c.token.get(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return decodeError(http.MethodGet, path, resp.StatusCode, data)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxAuditLine)
	for sc.Scan() {
		var l latchkey.AuditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("GET %s: line after seq %d: %w", path, after, err)
		}
		if err := fn(l); err != nil {
			return err
		}
		after = l.Seq
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("GET %s: the export broke off after seq %d: %w", path, after, err)
	}
	return nil
}

// errStop ends an export early.
var errStop = errors.New("stop")

// VerifyAuditSeals checks the server's audit chain here, on the client,
// against seals kept outside latchkey (see VerifyAuditAgainst).
func (c *Client) VerifyAuditSeals(ctx context.Context, seals []latchkey.AuditSeal, serverKey string) (*latchkey.AuditVerification, error) {
	return c.VerifyAuditAgainst(ctx, AuditCheck{Seals: seals, ServerKey: serverKey})
}

// AuditCheck is what VerifyAuditAgainst checks the chain against, all of
// it kept outside latchkey.
type AuditCheck struct {
	// Seals must each verify under ServerKey (base64; when empty, under the
	// key the server signs with now, so a key swapped in the database
	// shows), and the chain must still match each.
	Seals     []latchkey.AuditSeal
	ServerKey string
	// Kept, if not nil, is an earlier `audit export` (JSON lines): the
	// first record whose hash differs from its hash there is named exactly.
	Kept io.Reader
}

// VerifyAuditAgainst checks the server's audit chain here, on the client:
// it reads the chain through the export, checks it record by record, each
// sealed record against its seal and each record the kept export holds
// against it, and its end against the head the server signs now. The
// verdict names the first record that no longer matches and why
// (latchkey.BrokenChain, ...). A seal that does not verify, or a kept
// export that is itself broken, is an error, not a verdict.
func (c *Client) VerifyAuditAgainst(ctx context.Context, chk AuditCheck) (*latchkey.AuditVerification, error) {
	head, err := c.AuditSeal(ctx)
	if err != nil {
		return nil, err
	}
	if err := head.Verify(chk.ServerKey); err != nil {
		return nil, fmt.Errorf("the server's current seal: %w", err)
	}
	for _, s := range chk.Seals {
		if err := s.Verify(head.Key); err != nil {
			return nil, fmt.Errorf("seal of seq %d: %w", s.Seq, err)
		}
	}
	v := latchkey.NewChainVerifier()
	if err := v.Expect(chk.Seals...); err != nil {
		return nil, err
	}
	var kept *keptExport
	if chk.Kept != nil {
		kept = &keptExport{sc: bufio.NewScanner(chk.Kept)}
		kept.sc.Buffer(make([]byte, 64<<10), maxAuditLine)
	}
	err = c.ExportAudit(ctx, 0, func(l latchkey.AuditLine) error {
		if l.Seq > head.Seq {
			return errStop // committed after the head we judge by
		}
		r, err := l.Record()
		if err != nil {
			return err
		}
		known := ""
		if kept != nil {
			if known, err = kept.hashOf(r.Seq); err != nil {
				return err
			}
		}
		if !v.AddKept(r, known) {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	v.Finish(head.Seq, head.Hash)
	return v.Verification(), nil
}

// keptExport reads an earlier export in step with the chain, checking its
// own chain as it goes, so a damaged copy is not taken as the truth.
type keptExport struct {
	sc   *bufio.Scanner
	cur  latchkey.AuditLine
	have bool
	done bool
}

// hashOf returns the kept hash of record seq ("" when the export does not
// hold it). Calls come in increasing seq order.
func (k *keptExport) hashOf(seq int64) (string, error) {
	for !k.done && (!k.have || k.cur.Seq < seq) {
		if !k.sc.Scan() {
			k.done = true
			if err := k.sc.Err(); err != nil {
				return "", fmt.Errorf("kept export: %w", err)
			}
			break
		}
		var l latchkey.AuditLine
		if err := json.Unmarshal(k.sc.Bytes(), &l); err != nil {
			return "", fmt.Errorf("kept export, after seq %d: %w", k.cur.Seq, err)
		}
		r, err := l.Record()
		if err != nil {
			return "", fmt.Errorf("kept export: %w", err)
		}
		broken := latchkey.ChainHash(l.PrevHash, r) != l.Hash ||
			(l.Seq == 1 && l.PrevHash != latchkey.GenesisHash) ||
			(k.have && (l.Seq != k.cur.Seq+1 || l.PrevHash != k.cur.Hash))
		if broken {
			return "", fmt.Errorf("the kept export is itself broken at seq %d", l.Seq)
		}
		k.cur, k.have = l, true
	}
	if k.have && k.cur.Seq == seq {
		return k.cur.Hash, nil
	}
	return "", nil
}
