package main

import (
	"context"
	"sync/atomic"
	"time"
)

type cancelSystem struct {
	P50Ms figure `json:"p50_ms"`
	P99Ms figure `json:"p99_ms"`
	// Missed counts cancels whose upstream request never ended.
	Missed int `json:"missed"`
	// NoEnd counts relay cancels after which the client got no end
	// event with status cancelled.
	NoEnd int `json:"no_end"`
}

type cancelResult struct {
	Rounds       int                     `json:"rounds"`
	Cancels      int                     `json:"cancels_per_round"`
	UpstreamHTTP string                  `json:"upstream_http"`
	Systems      map[string]cancelSystem `json:"systems"`
	Note         string                  `json:"note"`
}

var tagSeq atomic.Int64

func (b *bench) cancel() (*cancelResult, error) {
	p := b.plan
	sys, err := b.newSystems(1, relayOptions{})
	if err != nil {
		return nil, err
	}
	defer sys.close()
	res := &cancelResult{Rounds: p.Rounds, Cancels: p.CancelCount, UpstreamHTTP: sys.UpstreamHTTP, Systems: map[string]cancelSystem{},
		Note: "from sending the cancel (relays: POST .../cancel; direct: the client closing its connection) to the upstream handler seeing its request context end or its next write fail"}
	ctx := context.Background()
	p50s, p99s := map[string][]float64{}, map[string][]float64{}
	missed, noEnd := map[string]int{}, map[string]int{}
	for r := range p.Rounds {
		lat := map[string][]float64{}
		for i := range p.CancelCount {
			for _, s := range rotate(sys.all, r+i) {
				ms, ok, ended, err := b.cancelOne(ctx, s)
				if err != nil {
					return nil, err
				}
				if !ok {
					missed[s.Name()]++
					continue
				}
				if !ended {
					noEnd[s.Name()]++
				}
				lat[s.Name()] = append(lat[s.Name()], ms)
			}
		}
		for name, v := range lat {
			sv := sortedCopy(v)
			p50s[name] = append(p50s[name], round3(percentile(sv, 50)))
			p99s[name] = append(p99s[name], round3(percentile(sv, 99)))
		}
	}
	for _, s := range sys.all {
		n := s.Name()
		res.Systems[n] = cancelSystem{P50Ms: newFigure(p50s[n]), P99Ms: newFigure(p99s[n]), Missed: missed[n], NoEnd: noEnd[n]}
	}
	return res, nil
}

// cancelOne opens a paced answer, reads one token, cancels, and returns
// the time from the cancel to the upstream seeing its request end (ms).
func (b *bench) cancelOne(ctx context.Context, s system) (ms float64, seen, ended bool, err error) {
	tag := tagSeq.Add(1)
	sc := script{Tokens: 1000, Rate: 200, Tag: tag}
	st, err := s.Open(ctx, sc)
	if err != nil {
		return 0, false, false, err
	}
	defer st.Close()
	for {
		ev, err := st.Next()
		if err != nil {
			return 0, false, false, errorf("cancel: %s: %v", s.Name(), err)
		}
		if ev.kind == evToken {
			break
		}
	}
	start := b.env.clock.now()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = s.Cancel(cctx, st)
	cancel()
	if err != nil {
		return 0, false, false, err
	}
	at, seen := b.env.up.Aborted(tag, 5*time.Second)
	if _, isDirect := s.(*direct); !isDirect {
		t, err := read(st, sc.Tokens)
		ended = err == nil && t.end == "cancelled"
	} else {
		ended = true
	}
	return float64(at-start) / 1e6, seen, ended, nil
}
