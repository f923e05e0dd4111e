package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/armistice-go/armistice/actors"
)

type churnCycle struct {
	Cycle      int     `json:"cycle"`
	Goroutines int     `json:"goroutines"`
	HeapMB     float64 `json:"heap_alloc_mb"`
	RSSMB      float64 `json:"rss_mb"`
	Registered int     `json:"registered"`
	CleanupMs  float64 `json:"cleanup_ms"`
}

type churnSystem struct {
	GoroutinesBefore int          `json:"goroutines_before"`
	HeapBeforeMB     float64      `json:"heap_before_mb"`
	Cycles           []churnCycle `json:"cycles"`
	// GoroutineDelta is the count after the last cycle minus before the
	// first; MaxGoroutineDelta the largest after any cycle.
	GoroutineDelta    int `json:"goroutine_delta"`
	MaxGoroutineDelta int `json:"max_goroutine_delta"`
	// HeapRatio is the live heap after the last cycle over after the
	// first.
	HeapRatio       float64 `json:"heap_ratio"`
	RegisteredAfter int     `json:"registered_after"`
	Disconnected    int     `json:"disconnected"`
	Cancelled       int     `json:"cancelled"`
	Failed          int     `json:"failed"`
	// Unexpected counts streams that did not end as their kind should
	// (a cancel answered without an end event, a failure reported as
	// completed, ...); UnexpectedDetail says how.
	Unexpected       int            `json:"unexpected"`
	UnexpectedDetail map[string]int `json:"unexpected_detail,omitempty"`
}

type churnResult struct {
	Cycles          int                    `json:"cycles"`
	StreamsPerCycle int                    `json:"streams_per_cycle"`
	UpstreamHTTP    string                 `json:"upstream_http"`
	Systems         map[string]churnSystem `json:"systems"`
	Settings        string                 `json:"settings"`
	// RegistryWarmMB is the heap that pre-warming protoactor's process
	// registry took: how much a cold engine's heap grows, once, over its
	// first ~10⁵ registrations (see registry.go).
	RegistryWarmMB float64 `json:"registry_warm_mb"`
}

func (b *bench) churn() (*churnResult, error) {
	p := b.plan
	o := relayOptions{
		engine: func(c *actors.Config) {
			c.Linger = 200 * time.Millisecond
			c.PickupTimeout = p.ChurnPickup
			c.DetachGrace = 100 * time.Millisecond
		},
		seed: func(c *seedConfig) { c.Pickup = p.ChurnPickup },
	}
	sys, err := b.newSystems(p.ChurnStreams, o)
	if err != nil {
		return nil, err
	}
	defer sys.close()
	sys.arm.onDisconnect = "cancel"
	res := &churnResult{RegistryWarmMB: round2(float64(sys.arm.registryWarm) / (1 << 20)), Cycles: p.ChurnCycles, StreamsPerCycle: p.ChurnStreams, UpstreamHTTP: sys.UpstreamHTTP,
		Systems:  map[string]churnSystem{},
		Settings: fmt.Sprintf("starts spread over %s per cycle; armistice: protoactor registry pre-warmed, on_disconnect=cancel, DetachGrace 100ms, Linger 200ms, PickupTimeout %s; baseline: pickup %[2]s, janitor every 250ms", churnSpread, p.ChurnPickup)}
	for _, s := range []interface {
		system
		registered() int
	}{seedReg{sys.seed}, armReg{sys.arm}} {
		cs, err := b.churnSystem(s, sys, p.ChurnCycles, p.ChurnStreams)
		if err != nil {
			return nil, err
		}
		res.Systems[s.Name()] = cs
	}
	return res, nil
}

type seedReg struct{ *seedSystem }

func (s seedReg) registered() int { return s.Registered() }

type armReg struct{ *armSystem }

func (a armReg) registered() int {
	n, err := a.Registered()
	if err != nil {
		return -1
	}
	return n
}

// quiesce waits until the system forgot every request, closes idle
// connections everywhere and waits for the goroutine count to come down
// to want (or stop falling).
func (b *bench) quiesce(s interface{ registered() int }, sys *systems, want int) {
	waitUntil(20*time.Second, func() bool { return s.registered() == 0 })
	b.env.client.CloseIdleConnections()
	sys.arm.closeIdle()
	sys.seed.tr.CloseIdleConnections()
	waitGoroutines(want, 5*time.Second)
}

// waitGoroutines waits until at most want goroutines run, or their count
// has not changed for half a second, or d passed.
func waitGoroutines(want int, d time.Duration) {
	last, since := runtime.NumGoroutine(), time.Now()
	waitUntil(d, func() bool {
		n := runtime.NumGoroutine()
		if n <= want {
			return true
		}
		if n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > 500*time.Millisecond
	})
}

func (b *bench) churnSystem(s interface {
	system
	registered() int
}, sys *systems, cycles, m int) (churnSystem, error) {
	var cs churnSystem
	// A warm-up cycle first: pools, buffers and maps reach their working
	// size; then "before" is measured.
	if _, err := b.churnCycle(s, m, &cs); err != nil {
		return cs, err
	}
	cs = churnSystem{}
	b.quiesce(s, sys, 0)
	settle()
	before := sampleMem()
	cs.GoroutinesBefore = before.Goroutines
	cs.HeapBeforeMB = round2(float64(before.HeapAlloc) / (1 << 20))
	for c := 1; c <= cycles; c++ {
		ended, err := b.churnCycle(s, m, &cs)
		if err != nil {
			return cs, err
		}
		b.quiesce(s, sys, cs.GoroutinesBefore)
		cleanup := time.Since(ended)
		settle()
		ms := sampleMem()
		cs.Cycles = append(cs.Cycles, churnCycle{
			Cycle: c, Goroutines: ms.Goroutines,
			HeapMB:     round2(float64(ms.HeapAlloc) / (1 << 20)),
			RSSMB:      round2(float64(ms.RSS) / (1 << 20)),
			Registered: s.registered(),
			CleanupMs:  round1(float64(cleanup.Microseconds()) / 1e3),
		})
		cs.MaxGoroutineDelta = max(cs.MaxGoroutineDelta, ms.Goroutines-cs.GoroutinesBefore)
	}
	last, first := cs.Cycles[len(cs.Cycles)-1], cs.Cycles[0]
	cs.GoroutineDelta = last.Goroutines - cs.GoroutinesBefore
	cs.HeapRatio = round2(last.HeapMB / first.HeapMB)
	cs.RegisteredAfter = last.Registered
	return cs, nil
}

// churnSpread spreads a cycle's starts.
const churnSpread = 500 * time.Millisecond

// churnCycle runs m streams, started within churnSpread: a third
// disconnect after a few tokens, a third are cancelled, a third fail
// upstream (half with an error event, half with a cut connection). It
// returns when every client is done.
func (b *bench) churnCycle(s system, m int, cs *churnSystem) (time.Time, error) {
	ctx := context.Background()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range m {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(start.Add(time.Duration(i) * churnSpread / time.Duration(m))))
			kind := i % 3
			problem, err := churnStream(ctx, s, kind, i%2 == 0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				// Refused or lost before it began (a relay too slow to
				// answer, an answer gone before the client attached):
				// an unexpected ending, not a reason to stop.
				problem = "open: " + shortErr(err)
			}
			switch kind {
			case 0:
				cs.Disconnected++
			case 1:
				cs.Cancelled++
			case 2:
				cs.Failed++
			}
			if problem != "" {
				cs.Unexpected++
				if cs.UnexpectedDetail == nil {
					cs.UnexpectedDetail = map[string]int{}
				}
				cs.UnexpectedDetail[problem]++
			}
		}()
	}
	wg.Wait()
	return time.Now(), nil
}

// churnStream runs one stream of the given kind (0 disconnect, 1 cancel,
// 2 upstream failure, cut or not) and describes what went unexpectedly.
// The answer is long (10 s) so that it cannot complete before the
// disconnect, cancel or failure, even under load.
func churnStream(ctx context.Context, s system, kind int, cut bool) (string, error) {
	const after = 3
	sc := script{Tokens: 1000, Rate: 100}
	if kind == 2 {
		sc.FailAfter, sc.Cut = after, cut
	}
	st, err := s.Open(ctx, sc)
	if err != nil {
		return "", err
	}
	defer st.Close()
	switch kind {
	case 0: // read a few tokens, then drop the connection
		for n := 0; n < after; {
			ev, err := st.Next()
			if err != nil {
				return "disconnect: before " + strconv.Itoa(after) + " tokens: " + err.Error(), nil
			}
			if ev.kind == evToken {
				n++
			}
		}
		return "", nil
	case 1: // read a few tokens, cancel, read to the end
		for n := 0; n < after; {
			ev, err := st.Next()
			if err != nil {
				return "cancel: before " + strconv.Itoa(after) + " tokens: " + err.Error(), nil
			}
			if ev.kind == evToken {
				n++
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.Cancel(cctx, st)
		cancel()
		if err != nil {
			return "cancel: " + err.Error(), nil
		}
		t, err := read(st, sc.Tokens)
		switch {
		case err != nil:
			return "cancel: no end event: " + err.Error(), nil
		case t.end != "cancelled":
			return "cancel: ended " + t.end, nil
		}
		return "", nil
	default: // the upstream fails after a few tokens
		t, err := read(st, sc.Tokens)
		switch {
		case err != nil:
			return "failure: no end event: " + err.Error(), nil
		case t.end != "failed":
			return "failure: ended " + t.end, nil
		}
		return "", nil
	}
}
