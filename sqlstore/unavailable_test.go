package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnavailable(t *testing.T) {
	s := &Store{}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{name: "nil", err: nil, want: false},
		{name: "a bug", err: errors.New("nil map"), want: false},
		{name: "a constraint", err: &pgconn.PgError{Code: "23505"}, want: false},
		{name: "bad conn", err: fmt.Errorf("query: %w", driver.ErrBadConn), want: true},
		{name: "refused", err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, want: true},
		{name: "reset mid-query", err: fmt.Errorf("read: %w", syscall.ECONNRESET), want: true},
		{name: "cut short", err: io.ErrUnexpectedEOF, want: true},
		{name: "admin shutdown", err: &pgconn.PgError{Code: "57P01"}, want: true},
		{name: "cannot connect now", err: &pgconn.PgError{Code: "57P03"}, want: true},
		{name: "connection exception", err: &pgconn.PgError{Code: "08006"}, want: true},
		{name: "deadline", err: fmt.Errorf("x: %w", context.DeadlineExceeded), want: true},
		{name: "conn closed", err: errors.New("conn closed"), want: true},
	} {
		if got := s.Unavailable(c.err); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
