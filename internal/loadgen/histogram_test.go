package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// exactQuantile is the nearest-rank q-quantile of sorted.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func TestHistogramQuantilesMatchSortedValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		gen  func(i int) time.Duration
		n    int
	}{
		{name: "uniformMicroseconds", n: 10_000, gen: func(int) time.Duration { return time.Duration(rng.IntN(1_000_000)) }},
		{name: "logNormalLatencies", n: 50_000, gen: func(int) time.Duration {
			return time.Duration(math.Exp(rng.NormFloat64()*1.5 + 12)) // median ~160µs, long tail
		}},
		{name: "bimodalFastFailures", n: 20_000, gen: func(i int) time.Duration {
			if i%10 == 0 {
				return time.Second + time.Duration(rng.IntN(1000))*time.Microsecond
			}
			return 200*time.Microsecond + time.Duration(rng.IntN(100))*time.Microsecond
		}},
		{name: "smallExactValues", n: 1000, gen: func(i int) time.Duration { return time.Duration(i % 100) }},
		{name: "single", n: 1, gen: func(int) time.Duration { return 42 * time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistogram()
			values := make([]time.Duration, tt.n)
			for i := range values {
				values[i] = tt.gen(i)
				h.Record(values[i])
			}
			slices.Sort(values)
			if got := h.Count(); got != uint64(tt.n) {
				t.Errorf("Count() = %d, want %d", got, tt.n)
			}
			if got, want := h.Max(), values[len(values)-1]; got != want {
				t.Errorf("Max() = %v, want %v", got, want)
			}
			if got, want := h.Min(), values[0]; got != want {
				t.Errorf("Min() = %v, want %v", got, want)
			}
			for _, q := range []float64{0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 1} {
				got, want := h.Quantile(q), exactQuantile(values, q)
				// Half a bucket: 1/256 of the value, or exact below 128ns.
				if diff := math.Abs(float64(got - want)); diff > float64(want)/256+1 {
					t.Errorf("Quantile(%v) = %v, want %v ± 0.4%%", q, got, want)
				}
			}
		})
	}
}

func TestHistogramEmpty(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Min() != 0 || h.Count() != 0 {
		t.Errorf("empty histogram: Quantile(0.5)=%v Max=%v Min=%v Count=%d, want all 0",
			h.Quantile(0.5), h.Max(), h.Min(), h.Count())
	}
}

func TestHistogramClampsOutOfRange(t *testing.T) {
	h := NewHistogram()
	h.Record(-time.Second)
	h.Record(100 * time.Hour)
	if got := h.Min(); got != 0 {
		t.Errorf("Min() after Record(-1s) = %v, want 0", got)
	}
	if got, want := h.Max(), time.Duration(maxValue); got != want {
		t.Errorf("Max() after Record(100h) = %v, want %v", got, want)
	}
}

func TestHistogramBucketsAreContiguous(t *testing.T) {
	next := uint64(0)
	for i := range numBuckets {
		low, width := bucketRange(i)
		if low != next {
			t.Fatalf("bucketRange(%d) starts at %d, want %d", i, low, next)
		}
		if got := bucketOf(low); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", low, got, i)
		}
		if got := bucketOf(low + width - 1); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", low+width-1, got, i)
		}
		next = low + width
	}
	if next != maxValue+1 {
		t.Errorf("buckets end at %d, want %d", next, uint64(maxValue+1))
	}
}

func TestHistogramConcurrentRecord(t *testing.T) {
	h := NewHistogram()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10_000 {
				h.Record(time.Duration(w*10_000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if got := h.Count(); got != 80_000 {
		t.Errorf("Count() = %d, want 80000", got)
	}
	if got, want := h.Max(), 79_999*time.Microsecond; got != want {
		t.Errorf("Max() = %v, want %v", got, want)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i&0xfffff) * time.Microsecond)
	}
}
