package sqlstore

// SetAuditProbe makes ListAudit read n records in seq order before it
// reads a time range through audit_at (so a test's small log takes both
// plans); the returned func puts the default back.
func SetAuditProbe(n int64) func() {
	old := auditProbe
	auditProbe = n
	return func() { auditProbe = old }
}
