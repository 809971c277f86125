package sqlstore

import (
	"context"

	"latchkey"
)

// list runs a keyset-paginated query whose last placeholder is the cursor
// and whose first column is the id it pages by.
func list[T any](ctx context.Context, s *Store, q string, page latchkey.Page, scan func(interface{ Scan(...any) error }) (T, error), key func(T) string, args ...any) ([]T, string, error) {
	page = page.Normalize()
	args = append(args, page.After, page.Limit+1)
	rows, err := s.query(ctx, q+" ORDER BY 1 LIMIT ?", args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > page.Limit {
		out = out[:page.Limit]
		next = key(out[len(out)-1])
	}
	return out, next, nil
}
