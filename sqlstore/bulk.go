package sqlstore

import (
	"latchkey/sqlstore/internal/bulk"
)

// init opens sqlstore/internal/bulk's door: a bulk loader under sqlstore/
// (sqlstore/benchseed) gets the few internals it needs without the store
// exporting them.
func init() {
	bulk.Access = func(v any) (bulk.Handle, bool) {
		s, ok := v.(*Store)
		if !ok || s == nil {
			return bulk.Handle{}, false
		}
		return bulk.Handle{DB: s.w, Rebind: s.d.rebind, SingleWriter: s.d.singleWriter(),
			AnalyzeAfterLoad: s.d.analyzeAfterLoad(), HashPassword: s.hashPassword, Now: s.now}, true
	}
}
