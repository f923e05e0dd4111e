package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/armistice-go/armistice/actors"
)

type idlePoint struct {
	Streams    int     `json:"streams"`
	RSSMB      float64 `json:"rss_mb"`
	HeapMB     float64 `json:"heap_inuse_mb"`
	StackMB    float64 `json:"stack_inuse_mb"`
	Goroutines int     `json:"goroutines"`
}

type idleSystem struct {
	Points []idlePoint `json:"points"`
	// Per stream, the whole process (the raw client's socket, the relay,
	// the upstream's handler): the change from no streams to all of them,
	// divided by their number.
	KBPerStream         float64 `json:"rss_kb_per_stream"`
	HeapKBPerStream     float64 `json:"heap_kb_per_stream"`
	StackKBPerStream    float64 `json:"stack_kb_per_stream"`
	GoroutinesPerStream float64 `json:"goroutines_per_stream"`
	// Added* is the same minus direct's (the upstream's handler and
	// connection): what the relay itself holds per stream.
	AddedKBPerStream      float64 `json:"added_rss_kb_per_stream"`
	AddedHeapKBPerStream  float64 `json:"added_heap_kb_per_stream"`
	AddedStackKBPerStream float64 `json:"added_stack_kb_per_stream"`
}

type idleResult struct {
	Requested    int                   `json:"requested"`
	Streams      int                   `json:"streams"`
	UpstreamHTTP string                `json:"upstream_http"`
	Rounds       int                   `json:"rounds"`
	Systems      map[string]idleSystem `json:"systems"`
	// KBPerStream is Armistice's RSS per idle stream over direct's, the
	// headline: its client connection, handler, request actor, producer
	// and upstream connection.
	KBPerStream figure `json:"rss_kb_per_stream"`
	// QueuedKBPerStream is the same for streams attached to requests
	// still in the queue: no producer, no upstream connection yet. It is
	// the server's own share (connection, handler, actor, subscription).
	QueuedKBPerStream figure `json:"queued_rss_kb_per_stream"`
	// EngineKBPerStream is Armistice minus the baseline per stream: what
	// the actor design costs over a goroutine and a channel; heap and
	// stack parts too.
	EngineKBPerStream      figure `json:"engine_rss_kb_per_stream"`
	EngineHeapKBPerStream  figure `json:"engine_heap_kb_per_stream"`
	EngineStackKBPerStream figure `json:"engine_stack_kb_per_stream"`
	// ProxyKBPerStream is the bare reverse proxy's RSS per idle stream
	// over direct's (proxy.go): the floor under any relay on net/http,
	// its two connections and its copying goroutine.
	ProxyKBPerStream figure `json:"proxy_rss_kb_per_stream"`
	Note             string `json:"note,omitempty"`
}

const queuedName = "armistice (queued)"

func (b *bench) idle() (*idleResult, error) {
	p := b.plan
	res := &idleResult{Requested: p.IdleStreams, Systems: map[string]idleSystem{}}
	n := p.IdleStreams
	// HTTP/1.1 upstream unless forced: then direct and the relays hold
	// the same kind of upstream handler, and relay minus direct is what
	// the relay holds.
	h2c := b.upstreamHTTP == "h2c"
	if m := b.maxStreams(h2c); n > m {
		n = m / 100 * 100
		res.Note = "streams capped by the open-file limit"
	}
	res.Streams = n
	mode := b.upstreamHTTP
	if !h2c {
		b.upstreamHTTP = "http1"
	}
	sys, err := b.newSystems(n, relayOptions{})
	b.upstreamHTTP = mode
	if err != nil {
		return nil, err
	}
	defer sys.close()
	res.UpstreamHTTP = sys.UpstreamHTTP
	rounds := p.IdleRounds
	res.Rounds = rounds
	per := map[string][]idleSystem{}
	var head, queued, eng, engHeap, engStack, floor []float64
	for r := range rounds {
		got := map[string]idleSystem{}
		for _, s := range rotate(append(slices.Clone(sys.all), sys.proxy), r) {
			is, err := b.idleRound(s, n, p.IdleSteps)
			if err != nil {
				return nil, err
			}
			got[s.Name()] = is
			b.waitDrained(sys)
		}
		qs, err := b.idleQueued(n, p.IdleSteps)
		if err != nil {
			return nil, err
		}
		got[queuedName] = qs
		d := got["direct"]
		for name, is := range got {
			is.AddedKBPerStream = round2(is.KBPerStream - d.KBPerStream)
			is.AddedHeapKBPerStream = round2(is.HeapKBPerStream - d.HeapKBPerStream)
			is.AddedStackKBPerStream = round2(is.StackKBPerStream - d.StackKBPerStream)
			got[name] = is
			per[name] = append(per[name], is)
		}
		a, bl := got["armistice"], got["baseline"]
		head = append(head, a.AddedKBPerStream)
		floor = append(floor, got[proxyName].AddedKBPerStream)
		queued = append(queued, got[queuedName].KBPerStream)
		eng = append(eng, round2(a.KBPerStream-bl.KBPerStream))
		engHeap = append(engHeap, round2(a.HeapKBPerStream-bl.HeapKBPerStream))
		engStack = append(engStack, round2(a.StackKBPerStream-bl.StackKBPerStream))
	}
	// Per system, keep the round whose figure is the median one.
	for name, list := range per {
		vals := make([]float64, len(list))
		for i, is := range list {
			vals[i] = is.KBPerStream
		}
		med := median(sortedCopy(vals))
		best := list[0]
		for _, is := range list {
			if abs(is.KBPerStream-med) < abs(best.KBPerStream-med) {
				best = is
			}
		}
		res.Systems[name] = best
	}
	res.KBPerStream, res.QueuedKBPerStream, res.ProxyKBPerStream = newFigure(head), newFigure(queued), newFigure(floor)
	res.EngineKBPerStream, res.EngineHeapKBPerStream, res.EngineStackKBPerStream = newFigure(eng), newFigure(engHeap), newFigure(engStack)
	return res, nil
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// idleGCs is how many collections run before each idle measurement: an
// idle stream waits through many, and each halves the stack of a
// goroutine that uses less than a quarter of it.
const idleGCs = 8

// openIdle opens streams [from, to) with open, 64 at a time.
func openIdle(from, to int, open func() (*rawStream, error)) ([]*rawStream, error) {
	out := make([]*rawStream, to-from)
	errs := make([]error, to-from)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range out {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = open()
		}()
	}
	wg.Wait()
	var kept []*rawStream
	var first error
	for i := range out {
		if errs[i] != nil && first == nil {
			first = errs[i]
		}
		if out[i] != nil {
			kept = append(kept, out[i])
		}
	}
	return kept, first
}

// finishIdle reads every stream to its end and closes it, 64 at a time.
func finishIdle(streams []*rawStream) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, st := range streams {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = st.finish(30 * time.Second)
		}()
	}
	wg.Wait()
}

// measureIdle opens n streams in steps, waiting for ready(count) before
// each measurement.
func (b *bench) measureIdle(name string, n, steps int, open func() (*rawStream, error), ready func(int) bool) (idleSystem, []*rawStream, error) {
	b.env.client.CloseIdleConnections()
	settleN(idleGCs)
	var is idleSystem
	is.Points = append(is.Points, point(0, sampleMem()))
	var streams []*rawStream
	for step := 1; step <= steps; step++ {
		target := n * step / steps
		got, err := openIdle(len(streams), target, open)
		streams = append(streams, got...)
		if err != nil {
			return is, streams, errorf("idle: %s: %v", name, err)
		}
		if !waitUntil(30*time.Second, func() bool { return ready(len(streams)) }) {
			return is, streams, errorf("idle: %s: %d streams not all ready", name, len(streams))
		}
		// Drop the submit connections the normal client keeps.
		b.env.client.CloseIdleConnections()
		settleN(idleGCs)
		is.Points = append(is.Points, point(len(streams), sampleMem()))
	}
	b.dumpGoroutines(name)
	last, first := is.Points[len(is.Points)-1], is.Points[0]
	kb := func(a, b float64) float64 { return round2((a - b) * 1024 / float64(n)) }
	is.KBPerStream = kb(last.RSSMB, first.RSSMB)
	is.HeapKBPerStream = kb(last.HeapMB, first.HeapMB)
	is.StackKBPerStream = kb(last.StackMB, first.StackMB)
	is.GoroutinesPerStream = round2(float64(last.Goroutines-first.Goroutines) / float64(n))
	for i := range is.Points {
		p := &is.Points[i]
		p.RSSMB, p.HeapMB, p.StackMB = round3(p.RSSMB), round3(p.HeapMB), round3(p.StackMB)
	}
	return is, streams, nil
}

// idleRound opens n streams whose answers stay silent (held at the
// upstream), measuring memory at steps, then lets them finish.
func (b *bench) idleRound(s system, n, steps int) (idleSystem, error) {
	up := b.env.up
	ctx := context.Background()
	heldBefore := up.held.Load()
	sc := script{Tokens: 1, Hold: true}
	is, streams, err := b.measureIdle(s.Name(), n, steps,
		func() (*rawStream, error) { return rawIdle(ctx, s, sc) },
		func(k int) bool { return up.held.Load()-heldBefore >= int64(k) })
	// Let them finish: one token each, then the end.
	up.Release()
	finishIdle(streams)
	return is, err
}

// idleQueued measures streams attached to Armistice requests waiting in
// the queue: one slot, taken by a request held at the upstream.
func (b *bench) idleQueued(n, steps int) (idleSystem, error) {
	arm, err := b.env.newArmistice(relayOptions{engine: func(c *actors.Config) { c.MaxActive = 1 }})
	if err != nil {
		return idleSystem{}, err
	}
	ctx := context.Background()
	hog, err := arm.Open(ctx, script{Tokens: 1, Hold: true})
	if err != nil {
		arm.Close()
		return idleSystem{}, err
	}
	is, streams, err := b.measureIdle(queuedName, n, steps,
		func() (*rawStream, error) { return rawRelay(ctx, arm.relay, script{Tokens: 1}) },
		func(k int) bool {
			st, err := arm.eng.Stats(ctx)
			return err == nil && st.Queued >= k
		})
	// Closing drains the engine: every queued request ends and its
	// stream gets the end.
	done := make(chan struct{})
	go func() {
		finishIdle(streams)
		close(done)
	}()
	arm.Close()
	<-done
	b.env.up.Release()
	hog.Close()
	return is, err
}

func point(n int, m memSample) idlePoint {
	mb := func(v int64) float64 { return float64(v) / (1 << 20) }
	return idlePoint{Streams: n, RSSMB: mb(m.RSS), HeapMB: mb(m.HeapInuse), StackMB: mb(m.StackInuse), Goroutines: m.Goroutines}
}

// dumpGoroutines writes every goroutine's stack to
// "<b.idleGoroutines>-<name>.txt", and a heap profile to
// "<b.idleGoroutines>-<name>.heap", when that prefix is set. A failure
// only costs the dump.
func (b *bench) dumpGoroutines(name string) {
	if b.idleGoroutines == "" {
		return
	}
	f, err := os.Create(fmt.Sprintf("%s-%s.txt", b.idleGoroutines, name))
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("goroutine").WriteTo(f, 2)
	// And the heap's live objects by where they were allocated
	// (go tool pprof -sample_index=inuse_space).
	h, err := os.Create(fmt.Sprintf("%s-%s.heap", b.idleGoroutines, name))
	if err != nil {
		return
	}
	defer h.Close()
	_ = pprof.Lookup("heap").WriteTo(h, 0)
}
