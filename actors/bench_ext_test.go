package actors_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/internal/pertoken"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
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

// lockstep streams n tokens, each only after the reader acknowledged the
// one before: one token per batch, every token a hand-off from the
// producer to the reader, as at a paced rate.
type lockstep struct {
	n   int
	ack chan struct{}
}

func (p lockstep) Name() string { return "lockstep" }
func (p lockstep) Stream(ctx context.Context, _ llm.Request) (llm.Stream, error) {
	return &lockstepStream{p: p, ctx: ctx}, nil
}

type lockstepStream struct {
	p    lockstep
	ctx  context.Context
	sent int
}

func (s *lockstepStream) Recv() (llm.Chunk, error) {
	if s.sent > 0 && s.sent <= s.p.n { // after a token: wait for its ack
		select {
		case <-s.p.ack:
		case <-s.ctx.Done():
			return llm.Chunk{}, s.ctx.Err()
		}
	}
	if s.sent == s.p.n {
		s.sent++
		return llm.Chunk{FinishReason: llm.FinishStop}, nil
	}
	if s.sent > s.p.n {
		return llm.Chunk{}, io.EOF
	}
	s.sent++
	return llm.Chunk{Text: " token"}, nil
}
func (s *lockstepStream) Close() error { return nil }

// BenchmarkPacedToken is the per-token path when every token is its own
// batch (a paced stream): the producer reads a token only after the
// subscriber has it, so one op is a token's whole trip from the producer
// to the reader, hand-offs included.
//
//	go test -run '^$' -bench BenchmarkPacedToken -benchmem -count 6 ./actors
func BenchmarkPacedToken(b *testing.B) {
	ack := make(chan struct{}, 1)
	cfg := actors.DefaultConfig(lockstep{n: b.N, ack: ack})
	cfg.MaxOutputBytes = 0
	eng, err := actors.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	snap, err := eng.Submit(ctx, "bench", actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "p"}}})
	if err != nil {
		b.Fatal(err)
	}
	sub, err := eng.Subscribe(ctx, snap.ID, "bench", 0)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	tokens := 0
	for {
		recs, err := sub.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		for i := range recs {
			if recs[i].Kind == model.KindToken {
				tokens++
				ack <- struct{}{}
			}
		}
	}
	b.StopTimer()
	if tokens != b.N {
		b.Fatalf("read %d tokens, want %d", tokens, b.N)
	}
}

// paced streams n tokens, one every gap, then a stop.
type paced struct {
	n   int
	gap time.Duration
}

func (p paced) Name() string { return "paced" }
func (p paced) Stream(ctx context.Context, _ llm.Request) (llm.Stream, error) {
	return &pacedStream{p: p, ctx: ctx, t: time.NewTimer(p.gap)}, nil
}

type pacedStream struct {
	p    paced
	ctx  context.Context
	t    *time.Timer
	sent int
}

func (s *pacedStream) Recv() (llm.Chunk, error) {
	if s.sent > s.p.n {
		return llm.Chunk{}, io.EOF
	}
	select {
	case <-s.t.C:
		s.t.Reset(s.p.gap)
	case <-s.ctx.Done():
		return llm.Chunk{}, s.ctx.Err()
	}
	s.sent++
	if s.sent > s.p.n {
		return llm.Chunk{FinishReason: llm.FinishStop}, nil
	}
	return llm.Chunk{Text: " token"}, nil
}
func (s *pacedStream) Close() error { s.t.Stop(); return nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPacedStreams runs 200 streams at once, each a token every
// 4 ms (250 tokens/s, 50,000 in all per second), every token its own
// batch; one op is one token. cpu-ns/token is the process's CPU time
// (user and system) per token: the engine's cost of a paced token, its
// goroutine hand-offs included, without HTTP.
//
//	go test -run '^$' -bench BenchmarkPacedStreams -benchmem -count 6 ./actors
func BenchmarkPacedStreams(b *testing.B) {
	const streams = 200
	per := max(1, b.N/streams)
	cfg := actors.DefaultConfig(paced{n: per, gap: 4 * time.Millisecond})
	cfg.MaxOutputBytes = 0
	eng, err := actors.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	var total atomic.Int64
	for range streams {
		wg.Go(func() {
			snap, err := eng.Submit(ctx, "bench", actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "p"}}})
			if err != nil {
				b.Error(err)
				return
			}
			sub, err := eng.Subscribe(ctx, snap.ID, "bench", 0)
			if err != nil {
				b.Error(err)
				return
			}
			defer sub.Close()
			for {
				recs, err := sub.Next(ctx)
				if err != nil {
					return
				}
				for i := range recs {
					if recs[i].Kind == model.KindToken {
						total.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if got := total.Load(); got != int64(per*streams) {
		b.Fatalf("read %d tokens, want %d", got, per*streams)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(per*streams), "cpu-ns/token")
}

// BenchmarkEvictionAtTheRetentionBound is one request from submit to its
// end (read or not) on an engine already past its retention bound, so
// that each request evicts one: the cost of a request should not grow
// with the bound (it did, by a scan of the retained requests per victim:
// docs/architecture.md).
//
//	go test -run '^$' -bench EvictionAtTheRetentionBound -benchtime 5000x ./actors
func BenchmarkEvictionAtTheRetentionBound(b *testing.B) {
	for _, bound := range []int{100, 10_000, 50_000} {
		for _, read := range []bool{true, false} {
			b.Run(fmt.Sprintf("bound=%d/read=%v", bound, read), func(b *testing.B) {
				cfg := actors.DefaultConfig(pertoken.CountingProvider{N: 1})
				cfg.MaxRetained = bound
				eng, err := actors.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer eng.Close()
				ctx := context.Background()
				one := func() {
					snap, err := eng.Submit(ctx, "o", actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
					if err != nil {
						b.Fatal(err)
					}
					s, err := eng.Subscribe(ctx, snap.ID, "o", 0)
					if err != nil {
						b.Fatal(err)
					}
					if read {
						for err == nil {
							_, err = s.Next(ctx)
						}
					}
					s.Close()
				}
				for range bound + bound/2 {
					one()
				}
				for b.Loop() {
					one()
				}
			})
		}
	}
}

// BenchmarkSubmitAndRead is one request from its submit to its end, read
// whole, created either as Submit then Subscribe or with one
// SubmitAndSubscribe (what POST /v1/chat/completions and
// POST /v1/responses do); parallel, so that the supervisor, which every
// submit and subscribe passes through, is what limits it.
//
//	go test -run '^$' -bench SubmitAndRead -benchmem -count 6 ./actors
func BenchmarkSubmitAndRead(b *testing.B) {
	for _, oneCall := range []bool{false, true} {
		name := "two_calls"
		if oneCall {
			name = "one_call"
		}
		b.Run(name, func(b *testing.B) {
			cfg := actors.DefaultConfig(pertoken.CountingProvider{N: 4})
			cfg.MaxActive, cfg.MaxQueued = 10_000, 10_000
			eng, err := actors.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer eng.Close()
			ctx := context.Background()
			spec := actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var s *actors.Subscription
					var err error
					if oneCall {
						_, s, err = eng.SubmitAndSubscribe(ctx, "o", spec)
					} else {
						var snap actors.Snapshot
						if snap, err = eng.Submit(ctx, "o", spec); err == nil {
							s, err = eng.Subscribe(ctx, snap.ID, "o", 0)
						}
					}
					if err != nil {
						b.Error(err)
						return
					}
					for err == nil {
						_, err = s.Next(ctx)
					}
					s.Close()
				}
			})
		})
	}
}
