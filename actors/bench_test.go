package actors

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/rs/zerolog"
)

// countingProvider streams n tokens as fast as it is read, then finishes.
// It allocates nothing per token, so the benchmarks measure the path, not
// the provider.
type countingProvider struct{ n int }

type countingStream struct {
	ctx  context.Context
	left int
	done bool
}

func (p countingProvider) Name() string { return "counting" }

func (p countingProvider) Stream(ctx context.Context, _ llm.Request) (llm.Stream, error) {
	return &countingStream{ctx: ctx, left: p.n}, nil
}

func (s *countingStream) Recv() (llm.Chunk, error) {
	if err := s.ctx.Err(); err != nil {
		return llm.Chunk{}, err
	}
	switch {
	case s.left > 0:
		s.left--
		return llm.Chunk{Text: " token"}, nil
	case !s.done:
		s.done = true
		return llm.Chunk{FinishReason: llm.FinishStop}, nil
	}
	return llm.Chunk{}, io.EOF
}

func (s *countingStream) Close() error { return nil }

// BenchmarkPerToken compares the per-token path of the engine (provider →
// producer goroutine → request actor → log → subscriber) with a plain
// goroutine-plus-channel pipeline doing the same work (provider → producer
// goroutine → channel → consumer that numbers and logs each record). One
// op is one token. Run both in one process:
//
//	go test -run '^$' -bench BenchmarkPerToken -benchmem -count 6 ./actors
func BenchmarkPerToken(b *testing.B) {
	b.Run("engine", func(b *testing.B) {
		cfg := DefaultConfig(countingProvider{n: b.N})
		cfg.MaxOutputBytes = 0
		cfg.Logger = zerolog.Nop()
		eng, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer eng.Close()
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		snap, err := eng.Submit(ctx, "bench", prompt("p"))
		if err != nil {
			b.Fatal(err)
		}
		sub, err := eng.Subscribe(ctx, snap.ID, "bench", 0)
		if err != nil {
			b.Fatal(err)
		}
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
				}
			}
		}
		b.StopTimer()
		if tokens != b.N {
			b.Fatalf("read %d tokens, want %d", tokens, b.N)
		}
	})
	b.Run("channel", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		stream, _ := countingProvider{n: b.N}.Stream(ctx, llm.Request{})
		ch := make(chan string, 1024) // generous: the baseline at its best
		go func() {
			defer close(ch)
			for {
				c, err := stream.Recv()
				if err != nil {
					return
				}
				if c.Text != "" {
					select {
					case ch <- c.Text:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
		var log []model.Record
		for text := range ch {
			log = append(log, model.Record{Seq: uint64(len(log) + 1), Kind: model.KindToken, Text: text})
		}
		b.StopTimer()
		if len(log) != b.N {
			b.Fatalf("read %d tokens, want %d", len(log), b.N)
		}
	})
}
