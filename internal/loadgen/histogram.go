package loadgen

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits sets the histogram's precision: every power-of-two range of
// values is split into 2^subBits equal buckets, so a bucket is at most
// 1/128 of its values wide and a reported percentile (the bucket's
// midpoint) is within 0.4% of the true sample.
const subBits = 7

const (
	subCount = 1 << subBits
	// maxValue is the largest value told apart, in nanoseconds (about 18
	// minutes); larger values are counted as maxValue. No single request of
	// a bounded benchmark comes near it.
	maxValue   = 1<<40 - 1
	numBuckets = (40-subBits)*subCount + subCount
)

// Histogram counts durations in log-linear buckets, like HdrHistogram:
// constant memory (about 35 KB) however many values it holds, and a
// bounded relative error. It is safe for concurrent use; Record is a few
// atomic adds and never blocks.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	min    atomic.Int64 // valid when total > 0
	max    atomic.Int64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	h := &Histogram{}
	h.min.Store(math.MaxInt64)
	return h
}

// bucketOf returns the index of the bucket holding v.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(v) - 1 - subBits
	return e*subCount + int(v>>e)
}

// bucketRange returns the lowest value of bucket i and its width.
func bucketRange(i int) (low, width uint64) {
	if i < subCount {
		return uint64(i), 1
	}
	e := i/subCount - 1
	m := uint64(i%subCount + subCount)
	return m << e, 1 << e
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	v = min(v, maxValue)
	h.counts[bucketOf(uint64(v))].Add(1)
	h.total.Add(1)
	for old := h.min.Load(); v < old && !h.min.CompareAndSwap(old, v); old = h.min.Load() {
	}
	for old := h.max.Load(); v > old && !h.max.CompareAndSwap(old, v); old = h.max.Load() {
	}
}

// Count returns how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest recorded duration (exact), or 0 if none.
func (h *Histogram) Max() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.max.Load())
}

// Min returns the smallest recorded duration (exact), or 0 if none.
func (h *Histogram) Min() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.min.Load())
}

// Quantile returns the q-quantile (0 < q ≤ 1) by the nearest-rank method:
// the smallest recorded value with at least q of all values at or below
// it, to within the bucket precision, and clamped to the exact minimum and
// maximum. It returns 0 for an empty histogram. Call it once recording
// has stopped; during recording the answer is approximate.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			low, width := bucketRange(i)
			v := int64(low + width/2)
			return time.Duration(min(max(v, h.min.Load()), h.max.Load()))
		}
	}
	return h.Max()
}
