package latchkey

// Page asks for one page of a list.
type Page struct {
	Limit int
	After string
}

// Normalize fills in the default limit and caps it.
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultPageLimit
	}
	if p.Limit > MaxPageLimit {
		p.Limit = MaxPageLimit
	}
	return p
}

// DefaultPageLimit and MaxPageLimit bound list pages.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)
