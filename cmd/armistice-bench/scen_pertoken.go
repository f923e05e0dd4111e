package main

import (
	"context"
	"errors"
	"io"
	"runtime"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
)

// The per_token scenario is actors/bench_test.go's BenchmarkPerToken run
// from this program: the same provider stub, the same two paths, a fixed
// token count per round instead of testing's b.N.

// countingProvider streams n tokens as fast as they are read. It allocates
// nothing per token, so the paths are measured, not the provider.
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

type perTokenPath struct {
	NsPerToken     figure `json:"ns_per_token"`
	AllocsPerToken figure `json:"allocs_per_token"`
	BytesPerToken  figure `json:"bytes_per_token"`
}

type perTokenResult struct {
	Rounds         int          `json:"rounds"`
	TokensPerRound int          `json:"tokens_per_round"`
	Engine         perTokenPath `json:"engine"`
	Channel        perTokenPath `json:"channel"`
	// Ratio is engine/channel ns per token, per round.
	Ratio figure `json:"ratio"`
}

type pathRun struct{ ns, allocs, bytes float64 }

// measure runs f once with the GC settled before, returning per-token
// time and allocations.
func measure(n int, f func() error) (pathRun, error) {
	settle()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := f()
	el := time.Since(start)
	runtime.ReadMemStats(&after)
	return pathRun{
		ns:     float64(el.Nanoseconds()) / float64(n),
		allocs: float64(after.Mallocs-before.Mallocs) / float64(n),
		bytes:  float64(after.TotalAlloc-before.TotalAlloc) / float64(n),
	}, err
}

func runPerTokenEngine(n int) (pathRun, error) {
	cfg := actors.DefaultConfig(countingProvider{n: n})
	cfg.MaxOutputBytes = 0
	eng, err := actors.New(cfg)
	if err != nil {
		return pathRun{}, err
	}
	defer eng.Close()
	ctx := context.Background()
	return measure(n, func() error {
		snap, err := eng.Submit(ctx, "bench", actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: "p"}}})
		if err != nil {
			return err
		}
		sub, err := eng.Subscribe(ctx, snap.ID, "bench", 0)
		if err != nil {
			return err
		}
		defer sub.Close()
		tokens := 0
		for {
			recs, err := sub.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			for i := range recs {
				if recs[i].Kind == model.KindToken {
					tokens++
				}
			}
		}
		if tokens != n {
			return errorf("per_token: engine read %d tokens, want %d", tokens, n)
		}
		return nil
	})
}

func runPerTokenChannel(n int) (pathRun, error) {
	ctx := context.Background()
	return measure(n, func() error {
		stream, _ := countingProvider{n: n}.Stream(ctx, llm.Request{})
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
		if len(log) != n {
			return errorf("per_token: channel read %d tokens, want %d", len(log), n)
		}
		return nil
	})
}

func (b *bench) perToken() (*perTokenResult, error) {
	p := b.plan
	res := &perTokenResult{Rounds: p.PerTokenRounds, TokensPerRound: p.PerTokenTokens}
	var eNs, eAl, eBy, cNs, cAl, cBy, ratio []float64
	for r := range p.PerTokenRounds {
		// Alternate which path goes first, so drift hits both alike.
		var e, c pathRun
		var err error
		if r%2 == 0 {
			if e, err = runPerTokenEngine(p.PerTokenTokens); err == nil {
				c, err = runPerTokenChannel(p.PerTokenTokens)
			}
		} else {
			if c, err = runPerTokenChannel(p.PerTokenTokens); err == nil {
				e, err = runPerTokenEngine(p.PerTokenTokens)
			}
		}
		if err != nil {
			return nil, err
		}
		eNs, eAl, eBy = append(eNs, round1(e.ns)), append(eAl, round2(e.allocs)), append(eBy, round1(e.bytes))
		cNs, cAl, cBy = append(cNs, round1(c.ns)), append(cAl, round2(c.allocs)), append(cBy, round1(c.bytes))
		ratio = append(ratio, round2(e.ns/c.ns))
	}
	res.Engine = perTokenPath{newFigure(eNs), newFigure(eAl), newFigure(eBy)}
	res.Channel = perTokenPath{newFigure(cNs), newFigure(cAl), newFigure(cBy)}
	res.Ratio = newFigure(ratio)
	return res, nil
}
