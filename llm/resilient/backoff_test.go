package resilient_test

import (
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm/resilient"
)

func TestBackoff(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0, 50 * ms},
		{1, 0.5, 75 * ms},
		{2, 0, 100 * ms},
		{3, 0.5, 300 * ms},
		{5, 0, 500 * ms},  // capped at 1s
		{60, 0, 500 * ms}, // no overflow
		{0, 0, 50 * ms},   // n below 1 counts as the first retry
		{1, 1.5, 50 * ms}, // r out of range counts as 0
		{1, -1, 50 * ms},
	} {
		if got := resilient.Backoff(100*ms, time.Second, tc.n, tc.r); got != tc.want {
			t.Errorf("Backoff(100ms, 1s, %d, %v) = %v, want %v", tc.n, tc.r, got, tc.want)
		}
	}
}
