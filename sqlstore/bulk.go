package sqlstore

import (
	"latchkey/sqlstore/internal/bulk"
)

func init() {
	bulk.Of = func(v any) (bulk.Handle, bool) {
		s, ok := v.(*Store)
		if !ok || s == nil {
			return bulk.Handle{}, false
		}
		return bulk.Handle{DB: s.w, Rebind: s.d.rebind, SingleWriter: s.d.singleWriter(),
			AnalyzeAfterLoad: s.d.analyzeAfterLoad(), HashPassword: s.hashPassword, Now: s.now}, true
	}
}
