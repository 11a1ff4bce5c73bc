package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/auth"
)

func TestOutcomeUnknown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "server_error", err: &pgconn.PgError{Code: uniqueViolation}},
		{name: "connect_failed", err: &pgconn.ConnectError{}},
		{name: "not_found", err: fmt.Errorf("x: %w", auth.ErrNotFound)},
		{name: "conflict", err: auth.ErrConflict},
		{name: "pool_wait_ended", err: context.DeadlineExceeded},
		{name: "broke_inside_transaction", err: notCommitted{io.ErrUnexpectedEOF}},
		{name: "broke_awaiting_answer", err: io.ErrUnexpectedEOF, want: true},
		{name: "reset", err: errors.New("read tcp: connection reset by peer"), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := outcomeUnknown(tt.err); got != tt.want {
				t.Errorf("outcomeUnknown(%v) = %t, want %t", tt.err, got, tt.want)
			}
		})
	}
}
