package main

import (
	"context"
	"runtime"
	"time"

	"github.com/armistice-go/armistice/internal/pertoken"
)

// The per_token scenario is actors' BenchmarkPerToken run from this
// program: the same provider stub and the same two paths (package
// internal/pertoken), a fixed token count per round instead of testing's
// b.N.

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
	eng, err := pertoken.NewEngine(n)
	if err != nil {
		return pathRun{}, err
	}
	defer eng.Close()
	return measure(n, func() error { return pertoken.RunEngine(context.Background(), eng, n) })
}

func runPerTokenChannel(n int) (pathRun, error) {
	return measure(n, func() error { return pertoken.RunChannel(context.Background(), n) })
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
