package password

import (
	"errors"
	"fmt"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultParams returns the OWASP minimum recommendation for argon2id:
// 19 MiB of memory, 2 passes, 1 lane, a 16-byte salt and a 32-byte key.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds applied to both configured parameters and parameters read back from
// a stored hash. The upper bounds exist because a stored hash dictates how
// much work Verify does: a corrupted or hostile row must not be able to make
// one sign-in allocate many gigabytes or spin for minutes. The lower bounds
// are the minimums of RFC 9106, which the reference implementation enforces.
const (
	maxMemory  = 1 << 20 // KiB, i.e. 1 GiB
	maxTime    = 100
	maxThreads = 64
	minSaltLen = 8
	maxSaltLen = 1024
	minKeyLen  = 4
	maxKeyLen  = 1024
)

// validate reports why p is outside the range this package will hash with.
func (p Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d outside [1, %d]", p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("threads %d outside [1, %d]", p.Threads, maxThreads)
	// argon2 needs 8 KiB per lane; x/crypto would silently round up, which
	// would make our hash disagree with every other implementation.
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB outside [8*threads, %d]", p.Memory, maxMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d outside [%d, %d]", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d outside [%d, %d]", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// weakerThan reports whether hashes made with p are cheaper to attack than
// hashes made with want, so they should be replaced.
func (p Params) weakerThan(want Params) bool {
	return p.Memory < want.Memory ||
		p.Time < want.Time ||
		p.Threads < want.Threads ||
		p.KeyLen < want.KeyLen ||
		p.SaltLen < want.SaltLen
}

// ErrMalformedHash is returned, wrapped, when a stored hash cannot be parsed
// or asks for parameters outside the accepted bounds.
var ErrMalformedHash = errors.New("password: malformed hash")
