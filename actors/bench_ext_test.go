package actors_test

import (
	"context"
	"testing"

	"github.com/armistice-go/armistice/internal/pertoken"
)

// BenchmarkPerToken compares the per-token path of the engine (provider →
// producer goroutine → request actor → log → subscriber) with a plain
// goroutine-plus-channel pipeline doing the same work (provider → producer
// goroutine → channel → consumer that numbers and logs each record). One
// op is one token. Both paths live in internal/pertoken, shared with
// armistice-bench's per_token scenario. Run both in one process:
//
//	go test -run '^$' -bench BenchmarkPerToken -benchmem -count 6 ./actors
func BenchmarkPerToken(b *testing.B) {
	b.Run("engine", func(b *testing.B) {
		eng, err := pertoken.NewEngine(b.N)
		if err != nil {
			b.Fatal(err)
		}
		defer eng.Close()
		b.ReportAllocs()
		b.ResetTimer()
		err = pertoken.RunEngine(context.Background(), eng, b.N)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
	})
	b.Run("channel", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		err := pertoken.RunChannel(context.Background(), b.N)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
	})
}
