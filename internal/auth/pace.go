package auth

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

// calibratePage is how many users CalibrateFailures reads per query: big
// enough that a million users take a few hundred queries, small enough that
// each is brief.
const calibratePage = 5000

// calibrateDuty is the share of the time CalibrateFailures spends reading:
// it runs on a node that is already serving, and at full speed reading 10
// million users took 40 % of a 2-CPU node's CPU for minutes and slowed
// every request beside it (docs/benchmarks.md, "Ten times bigger"). The
// floor learns each class at its first verification meanwhile.
const calibrateDuty = 0.1

// CalibrateFailures reads every stored password hash once and verifies a
// random password against one hash of each cost class found (bcrypt cost,
// argon2id parameters), so that failed sign-ins are held to the slowest
// class from the start (password.Hasher.FailureFloor): otherwise the first
// failed sign-in of each slower class would still stand out, and tell that
// its account exists. A serving node runs it once in the background at
// start; classes added later (an import while serving) are learnt at
// their first verification. It returns the number of classes found and the
// floor they make.
func (s *Service) CalibrateFailures(ctx context.Context) (classes int, floor time.Duration, err error) {
	samples := map[string]string{}
	var after int64
	for {
		start := time.Now()
		users, err := s.store.ListUsers(ctx, after, calibratePage)
		if err != nil {
			return 0, 0, unavailable(err)
		}
		for i := range users {
			h := users[i].PasswordHash
			if c := password.CostClass(h); samples[c] == "" {
				samples[c] = h
			}
		}
		if len(users) < calibratePage {
			break
		}
		after = users[len(users)-1].ID
		if err := rest(ctx, time.Duration(float64(time.Since(start))*(1/calibrateDuty-1))); err != nil {
			return 0, 0, err
		}
	}
	list := make([]string, 0, len(samples))
	for _, h := range samples {
		list = append(list, h)
	}
	s.hasher.Calibrate(list)
	return len(list), s.hasher.FailureFloor(), nil
}

// rest waits d, or until ctx ends.
func rest(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
