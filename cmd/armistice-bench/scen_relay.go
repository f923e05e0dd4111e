package main

import (
	"context"
	"slices"
	"sync"
	"time"
)

// systems is one scenario's set: direct, the baseline and Armistice,
// with the relays fresh for the scenario.
type systems struct {
	all  []system
	seed *seedSystem
	arm  *armSystem
	// proxy is the floor under the relays (proxy.go): measured by the
	// scenarios whose targets are a relay's added cost (ttft, idle), not
	// one of all.
	proxy *proxySystem
	// UpstreamHTTP is the relays' upstream protocol: "http1" or "h2c".
	UpstreamHTTP string
}

func (s *systems) close() {
	if s.seed != nil {
		s.seed.Close()
	}
	if s.arm != nil {
		s.arm.Close()
	}
	if s.proxy != nil {
		s.proxy.Close()
	}
}

// fdsPerRelayStream is what one stream through a relay holds: the
// client's and the relay's ends of the client connection, and, over
// HTTP/1.1, both ends of the relay's upstream connection.
func fdsPerRelayStream(h2c bool) int {
	if h2c {
		return 2
	}
	return 4
}

// fdReserve is kept free for listeners, the runtime and stragglers.
const fdReserve = 400

// wantH2C decides the relays' upstream protocol for a scenario with n
// concurrent streams: the flag, or in auto mode HTTP/1.1 unless n
// streams would not fit the open-file limit.
func (b *bench) wantH2C(n int) bool {
	switch b.upstreamHTTP {
	case "h2c":
		return true
	case "http1":
		return false
	}
	return n*fdsPerRelayStream(false)+fdReserve > int(b.nofile)
}

// maxStreams is the most concurrent relay streams the open-file limit
// allows.
func (b *bench) maxStreams(h2c bool) int {
	return max(0, (int(b.nofile)-fdReserve)/fdsPerRelayStream(h2c))
}

func (b *bench) newSystems(n int, o relayOptions) (*systems, error) {
	o.h2c = b.wantH2C(n)
	seed, err := b.env.newBaseline(o)
	if err != nil {
		return nil, err
	}
	arm, err := b.env.newArmistice(o)
	if err != nil {
		seed.Close()
		return nil, err
	}
	px, err := b.env.newProxy(o)
	if err != nil {
		seed.Close()
		arm.Close()
		return nil, err
	}
	proto := "http1"
	if o.h2c {
		proto = "h2c"
	}
	return &systems{all: []system{b.env.direct, seed, arm}, seed: seed, arm: arm, proxy: px, UpstreamHTTP: proto}, nil
}

// rotate returns the systems in the order of round r.
func rotate(s []system, r int) []system {
	out := make([]system, len(s))
	for i := range s {
		out[i] = s[(i+r)%len(s)]
	}
	return out
}

type relayResult struct {
	Rounds          int               `json:"rounds"`
	StreamsPerRound int               `json:"streams_per_round"`
	Tokens          int               `json:"tokens"`
	UpstreamHTTP    string            `json:"upstream_http"`
	TokensPerSec    map[string]figure `json:"tokens_per_s"`
	// Ratio is Armistice/baseline tokens per second, per round.
	Ratio         figure `json:"ratio"`
	RatioVsDirect figure `json:"ratio_vs_direct"`
	Missing       int    `json:"missing"`
	Duplicated    int    `json:"duplicated"`
}

func (b *bench) relay() (*relayResult, error) {
	p := b.plan
	sys, err := b.newSystems(1, relayOptions{})
	if err != nil {
		return nil, err
	}
	defer sys.close()
	res := &relayResult{Rounds: p.Rounds, StreamsPerRound: p.RelayStreams, Tokens: p.RelayTokens,
		UpstreamHTTP: sys.UpstreamHTTP, TokensPerSec: map[string]figure{}}
	perSys := map[string][]float64{}
	var ratio, ratioDirect []float64
	sc := script{Tokens: p.RelayTokens}
	ctx := context.Background()
	// One warm-up stream each: connections, pools, first allocations.
	for _, s := range sys.all {
		if _, _, err := b.oneStream(ctx, s, sc); err != nil {
			return nil, err
		}
	}
	for r := range p.Rounds {
		rates := map[string][]float64{}
		for range p.RelayStreams {
			for _, s := range rotate(sys.all, r) {
				tps, t, err := b.oneStream(ctx, s, sc)
				if err != nil {
					return nil, err
				}
				m, d := t.lost()
				res.Missing += m
				res.Duplicated += d
				rates[s.Name()] = append(rates[s.Name()], tps)
			}
		}
		med := map[string]float64{}
		for name, v := range rates {
			med[name] = median(sortedCopy(v))
			perSys[name] = append(perSys[name], round1(med[name]))
		}
		ratio = append(ratio, round2(med["armistice"]/med["baseline"]))
		ratioDirect = append(ratioDirect, round2(med["armistice"]/med["direct"]))
	}
	for name, v := range perSys {
		res.TokensPerSec[name] = newFigure(v)
	}
	res.Ratio, res.RatioVsDirect = newFigure(ratio), newFigure(ratioDirect)
	return res, nil
}

// oneStream runs one answer to its end and returns its tokens per second
// (from the open to the end event).
func (b *bench) oneStream(ctx context.Context, s system, sc script) (float64, *tally, error) {
	start, t, err := b.runAnswer(ctx, s, sc)
	if err != nil {
		return 0, t, err
	}
	el := time.Duration(t.endAt - start)
	return float64(sc.Tokens) / el.Seconds(), t, nil
}

// runAnswer opens one answer, reads it to its end and checks that it
// completed with every token; start is the clock at the open.
func (b *bench) runAnswer(ctx context.Context, s system, sc script) (start int64, t *tally, err error) {
	start = b.env.clock.now()
	st, err := s.Open(ctx, sc)
	if err != nil {
		return start, nil, err
	}
	defer st.Close()
	t, err = read(st, sc.Tokens)
	if err != nil {
		return start, t, errorf("%s: stream: %v", s.Name(), err)
	}
	if t.end != "completed" || t.tokens != sc.Tokens {
		return start, t, errorf("%s: stream ended %q after %d of %d tokens", s.Name(), t.end, t.tokens, sc.Tokens)
	}
	return start, t, nil
}

type ttftSystem struct {
	P50 figure `json:"p50_us"`
	P99 figure `json:"p99_us"`
}

type ttftPart struct {
	Rounds   int                   `json:"rounds"`
	Requests int                   `json:"requests_per_round"`
	Tokens   int                   `json:"tokens"`
	Systems  map[string]ttftSystem `json:"systems"`
	// AddedP50/AddedP99: Armistice minus direct, per round (µs).
	AddedP50 figure `json:"added_p50_us"`
	AddedP99 figure `json:"added_p99_us"`
	// Baseline minus direct, for reference.
	BaselineAddedP50 figure `json:"baseline_added_p50_us"`
	BaselineAddedP99 figure `json:"baseline_added_p99_us"`
	// ChatAddedP50/ChatAddedP99: Armistice through its OpenAI-compatible
	// POST /v1/chat/completions (armistice_chat: one round trip, like
	// direct) minus direct, per round (µs). Sequential only.
	ChatAddedP50 *figure `json:"chat_added_p50_us,omitempty"`
	ChatAddedP99 *figure `json:"chat_added_p99_us,omitempty"`
	// OneTripAddedP50/OneTripAddedP99: Armistice's native API in one
	// round trip (armistice_1rt: POST /v1/requests with Accept:
	// text/event-stream) minus direct, per round (µs). Sequential only.
	OneTripAddedP50 *figure `json:"one_trip_added_p50_us,omitempty"`
	OneTripAddedP99 *figure `json:"one_trip_added_p99_us,omitempty"`
	// ProxyAddedP50/ProxyAddedP99: the bare reverse proxy (proxy.go, one
	// round trip like direct) minus direct, per round (µs): the floor
	// under any relay's added TTFT. Sequential only.
	ProxyAddedP50 *figure `json:"proxy_added_p50_us,omitempty"`
	ProxyAddedP99 *figure `json:"proxy_added_p99_us,omitempty"`
	// Ratio99 is Armistice p99 / direct p99.
	Ratio99 figure `json:"ratio_p99"`

	samples map[string][]float64 // µs, the last round, for the plot
}

type ttftResult struct {
	UpstreamHTTP string   `json:"upstream_http"`
	Sequential   ttftPart `json:"sequential"`
	// Concurrent is TTFT while Streams paced streams run at once.
	Concurrent struct {
		ttftPart
		Streams  int     `json:"streams"`
		Rate     float64 `json:"tokens_per_s_per_stream"`
		Duration float64 `json:"seconds_per_round"`
	} `json:"concurrent"`
	Missing    int `json:"missing"`
	Duplicated int `json:"duplicated"`
}

func (b *bench) ttft() (*ttftResult, error) {
	p := b.plan
	sys, err := b.newSystems(p.TTFT200Streams, relayOptions{})
	if err != nil {
		return nil, err
	}
	defer sys.close()
	res := &ttftResult{UpstreamHTTP: sys.UpstreamHTTP}
	ctx := context.Background()

	// Sequential: one request at a time, the systems interleaved request
	// by request; Armistice also through its single-request
	// OpenAI-compatible route and its native API in one round trip.
	seq := &res.Sequential
	seq.Rounds, seq.Requests, seq.Tokens = p.Rounds, p.TTFTRequests, p.TTFTTokens
	sc := script{Tokens: p.TTFTTokens}
	seqAll := append(slices.Clone(sys.all), sys.arm.chat, sys.arm.oneTrip, sys.proxy)
	for _, s := range seqAll {
		for range 5 { // warm-up
			if _, _, err := b.ttftOne(ctx, s, sc); err != nil {
				return nil, err
			}
		}
	}
	rounds := make([]map[string][]float64, p.Rounds)
	for r := range p.Rounds {
		rounds[r] = map[string][]float64{}
		for i := range p.TTFTRequests {
			for _, s := range rotate(seqAll, r+i) {
				us, t, err := b.ttftOne(ctx, s, sc)
				if err != nil {
					return nil, err
				}
				m, d := t.lost()
				res.Missing += m
				res.Duplicated += d
				rounds[r][s.Name()] = append(rounds[r][s.Name()], us)
			}
		}
	}
	seq.summarize(rounds)

	// Concurrent: Streams workers, each opening paced streams one after
	// the other; starts are spread over one stream's duration, and only
	// streams opened once all workers run are counted.
	con := &res.Concurrent
	con.Streams, con.Rate, con.Duration = p.TTFT200Streams, p.TTFT200Rate, p.TTFT200Duration.Seconds()
	con.Rounds, con.Tokens = p.TTFT200Rounds, p.TTFT200Tokens
	csc := script{Tokens: p.TTFT200Tokens, Rate: p.TTFT200Rate}
	crounds := make([]map[string][]float64, p.TTFT200Rounds)
	for r := range p.TTFT200Rounds {
		crounds[r] = map[string][]float64{}
		for _, s := range rotate(sys.all, r) {
			v, missing, dups, err := b.ttftConcurrent(ctx, s, csc, p.TTFT200Streams, p.TTFT200Duration)
			if err != nil {
				return nil, err
			}
			res.Missing += missing
			res.Duplicated += dups
			crounds[r][s.Name()] = v
		}
		b.env.client.CloseIdleConnections()
	}
	con.summarize(crounds)
	for _, r := range crounds {
		con.Requests = max(con.Requests, len(r["armistice"]))
	}
	return res, nil
}

func (t *ttftPart) summarize(rounds []map[string][]float64) {
	t.Systems = map[string]ttftSystem{}
	p50s, p99s := map[string][]float64{}, map[string][]float64{}
	var a50, a99, b50, b99, r99, c50, c99, o50, o99, x50, x99 []float64
	for _, r := range rounds {
		q50, q99 := map[string]float64{}, map[string]float64{}
		for name, v := range r {
			s := sortedCopy(v)
			q50[name], q99[name] = percentile(s, 50), percentile(s, 99)
			p50s[name] = append(p50s[name], round1(q50[name]))
			p99s[name] = append(p99s[name], round1(q99[name]))
		}
		a50 = append(a50, round1(q50["armistice"]-q50["direct"]))
		a99 = append(a99, round1(q99["armistice"]-q99["direct"]))
		b50 = append(b50, round1(q50["baseline"]-q50["direct"]))
		b99 = append(b99, round1(q99["baseline"]-q99["direct"]))
		r99 = append(r99, round2(q99["armistice"]/q99["direct"]))
		if _, ok := r[chatName]; ok {
			c50 = append(c50, round1(q50[chatName]-q50["direct"]))
			c99 = append(c99, round1(q99[chatName]-q99["direct"]))
		}
		if _, ok := r[oneTripName]; ok {
			o50 = append(o50, round1(q50[oneTripName]-q50["direct"]))
			o99 = append(o99, round1(q99[oneTripName]-q99["direct"]))
		}
		if _, ok := r[proxyName]; ok {
			x50 = append(x50, round1(q50[proxyName]-q50["direct"]))
			x99 = append(x99, round1(q99[proxyName]-q99["direct"]))
		}
	}
	for name := range p50s {
		t.Systems[name] = ttftSystem{P50: newFigure(p50s[name]), P99: newFigure(p99s[name])}
	}
	t.AddedP50, t.AddedP99 = newFigure(a50), newFigure(a99)
	t.BaselineAddedP50, t.BaselineAddedP99 = newFigure(b50), newFigure(b99)
	t.Ratio99 = newFigure(r99)
	if len(c50) > 0 {
		f50, f99 := newFigure(c50), newFigure(c99)
		t.ChatAddedP50, t.ChatAddedP99 = &f50, &f99
	}
	if len(o50) > 0 {
		f50, f99 := newFigure(o50), newFigure(o99)
		t.OneTripAddedP50, t.OneTripAddedP99 = &f50, &f99
	}
	if len(x50) > 0 {
		f50, f99 := newFigure(x50), newFigure(x99)
		t.ProxyAddedP50, t.ProxyAddedP99 = &f50, &f99
	}
	if len(rounds) > 0 {
		t.samples = rounds[len(rounds)-1]
	}
}

// ttftOne runs one answer and returns its time to first token in µs.
func (b *bench) ttftOne(ctx context.Context, s system, sc script) (float64, *tally, error) {
	start, t, err := b.runAnswer(ctx, s, sc)
	if err != nil {
		return 0, t, err
	}
	return float64(t.firstAt-start) / 1e3, t, nil
}

// ttftConcurrent keeps n paced streams running for d and returns the
// time to first token (µs) of every stream opened after the ramp.
func (b *bench) ttftConcurrent(ctx context.Context, s system, sc script, n int, d time.Duration) ([]float64, int, int, error) {
	streamDur := time.Duration(float64(sc.Tokens) / sc.Rate * float64(time.Second))
	begin := time.Now()
	rampEnd := begin.Add(streamDur)
	stop := rampEnd.Add(d)
	var mu sync.Mutex
	var out []float64
	var firstErr error
	var missing, dups int
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(begin.Add(time.Duration(w) * streamDur / time.Duration(n))))
			for time.Now().Before(stop) {
				opened := time.Now()
				us, t, err := b.ttftOne(ctx, s, sc)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				m, dd := t.lost()
				missing += m
				dups += dd
				if !opened.Before(rampEnd) {
					out = append(out, us)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out, missing, dups, firstErr
}
