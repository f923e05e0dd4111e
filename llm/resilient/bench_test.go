package resilient_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/resilient"
)

// BenchmarkCancelToAbort measures, through the resilient provider and each
// SDK provider, how long an upstream takes to see its connection go after
// the caller cancels a stream stalled between two tokens. It reports the
// median and 99th percentile of that latency (p50-abort-µs, p99-abort-µs),
// and of the time the blocked Recv took to return (p50-recv-µs,
// p99-recv-µs).
//
//	go test ./llm/resilient -run '^$' -bench CancelToAbort -benchtime 2000x
func BenchmarkCancelToAbort(b *testing.B) {
	for _, f := range formats {
		b.Run(f.String(), func(b *testing.B) {
			s, err := llmtest.Start(f, llmtest.StallAfter([]string{"Hello"}, "late"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			up := resilient.Upstream{Name: "up", Provider: sdkProvider(b, f, "up", s.URL)}
			p, err := resilient.New(resilient.Config{Upstreams: []resilient.Upstream{up}})
			if err != nil {
				b.Fatal(err)
			}
			wait, stop := context.WithTimeout(context.Background(), time.Minute)
			defer stop()
			abort := make([]time.Duration, 0, b.N)
			recv := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				ctx, cancel := context.WithCancel(wait)
				st, err := p.Stream(ctx, providertest.Prompt())
				if err != nil {
					b.Fatal(err)
				}
				if c, err := st.Recv(); err != nil || c.Text != "Hello" {
					b.Fatalf("Recv = %+v, %v", c, err)
				}
				got := make(chan error, 1)
				go func() {
					_, err := st.Recv()
					got <- err
				}()
				if _, err := s.WaitStalled(wait); err != nil {
					b.Fatal(err)
				}
				cancelled := time.Now()
				cancel()
				if err := <-got; ctx.Err() == nil || err == nil {
					b.Fatalf("Recv after cancel = %v", err)
				}
				recv = append(recv, time.Since(cancelled))
				d, err := s.WaitDisconnect(wait)
				if err != nil {
					b.Fatal(err)
				}
				abort = append(abort, d.At.Sub(cancelled))
				st.Close()
			}
			b.StopTimer()
			report(b, "abort", abort)
			report(b, "recv", recv)
		})
	}
}

// report adds the median and 99th percentile of ds, in microseconds.
func report(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), "p50-"+name+"-µs")
	b.ReportMetric(at(0.99), "p99-"+name+"-µs")
}
