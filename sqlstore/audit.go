package sqlstore

import (
	"context"
	"strconv"

	"latchkey"
)

func parseSeq(field, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, latchkey.BadField(field, "%s must be a sequence number", field)
	}
	return n, nil
}

func formatSeq(n int64) string { return strconv.FormatInt(n, 10) }

const auditCols = "seq, at, actor, terminal, action, target, details, prev_hash, hash"

func scanAudit(row interface{ Scan(...any) error }) (latchkey.AuditRecord, error) {
	var r latchkey.AuditRecord
	var at int64
	var details string
	err := row.Scan(&r.Seq, &at, &r.Actor, &r.Terminal, &r.Action, &r.Target, &details, &r.PrevHash, &r.Hash)
	r.At, r.Details = fromUS(at), []byte(details)
	return r, err
}

// ListAudit lists audit records after a sequence number (staff only).
func (s *Store) ListAudit(ctx context.Context, c latchkey.Caller, f latchkey.AuditFilter) ([]latchkey.AuditRecord, error) {
	if err := requireStaff(c); err != nil {
		return nil, err
	}
	if f.After < 0 {
		return nil, latchkey.BadField("after", "after must not be negative")
	}
	f.Limit = latchkey.Page{Limit: f.Limit}.Normalize().Limit
	rows, err := s.query(ctx, "SELECT "+auditCols+` FROM audit WHERE seq > ? AND (? = '' OR actor = ?)
		AND (? = '' OR action = ?) ORDER BY seq LIMIT ?`, f.After, f.Actor, f.Actor, f.Action, f.Action, f.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []latchkey.AuditRecord{}
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// VerifyAudit walks the whole chain and reports the first record that does
// not verify (admin only).
func (s *Store) VerifyAudit(ctx context.Context, c latchkey.Caller) (*latchkey.AuditVerification, error) {
	if err := requireAdmin(c); err != nil {
		return nil, err
	}
	// Read the head first: records committed after it are not judged.
	var headSeq int64
	var headHash string
	if err := s.queryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&headSeq, &headHash); err != nil {
		return nil, err
	}
	v := latchkey.NewChainVerifier()
	after := int64(0)
	for v.FirstBad == 0 {
		rows, err := s.query(ctx, "SELECT "+auditCols+" FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 5000", after, headSeq)
		if err != nil {
			return nil, err
		}
		n := 0
		for rows.Next() {
			r, err := scanAudit(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			n++
			after = r.Seq
			if !v.Add(r) {
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
	}
	v.Finish(headSeq, headHash)
	return &latchkey.AuditVerification{OK: v.FirstBad == 0, Records: v.Records, FirstBadSeq: v.FirstBad}, nil
}
