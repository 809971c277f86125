package sqlstore

import (
	"context"

	"latchkey"
)

// list runs a keyset-paginated query whose last placeholder is the cursor
// and whose first column is the id it pages by.
func list[T any](ctx context.Context, s *Store, q string, page latchkey.Page, scan func(interface{ Scan(...any) error }) (T, error), key func(T) string, args ...any) ([]T, string, error) {
	page = page.Normalize()
	return keysetPage(ctx, s, q+" ORDER BY 1 LIMIT ?", page, scan, key, append(args, page.After, page.Limit+1)...)
}

// listNewest is list backwards, newest first: q selects (its first column
// the id it pages by, named id) without a cursor, which listNewest adds
// when the page has one.
func listNewest[T any](ctx context.Context, s *Store, q string, page latchkey.Page, scan func(interface{ Scan(...any) error }) (T, error), key func(T) string, args ...any) ([]T, string, error) {
	page = page.Normalize()
	if page.After != "" {
		q += " AND id < ?"
		args = append(args, page.After)
	}
	return keysetPage(ctx, s, q+" ORDER BY 1 DESC LIMIT ?", page, scan, key, append(args, page.Limit+1)...)
}

// keysetPage runs q, which asks for one row more than the page, and
// returns the page and the next page's cursor ("" at the end).
func keysetPage[T any](ctx context.Context, s *Store, q string, page latchkey.Page, scan func(interface{ Scan(...any) error }) (T, error), key func(T) string, args ...any) ([]T, string, error) {
	rows, err := s.query(ctx, q, args...)
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
