package mail

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

// BenchmarkWorker_SendRate measures how many mails per second one outbox
// worker delivers: lease from the outbox (SQLite), render both templates,
// one SMTP conversation with a real server on loopback, record the outcome.
// Each mail is taken off the server before the next is sent, so every one
// counted was delivered. The queueing (the request's side) is not timed.
func BenchmarkWorker_SendRate(b *testing.B) {
	srv := authtest.StartSMTP(b, authtest.SMTPOptions{})
	svc, w, _ := newWorld(b, srv, "smtp://"+srv.Addr)
	users, err := svc.Users(b.Context(), 0, 1)
	if err != nil || len(users) != 1 {
		b.Fatalf("Users() = %v, %v; want the one user", users, err)
	}
	for range b.N {
		if err := svc.SendReset(b.Context(), &users[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if sent, err := w.sendOne(b.Context()); !sent || err != nil {
			b.Fatalf("sendOne = %v, %v; want a mail sent", sent, err)
		}
		srv.Next(b, 5*time.Second)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
}
