package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"

	"github.com/armistice-go/armistice/actors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type concSystem struct {
	// Latency is per token: the client's receive time minus the
	// upstream's send time (one clock), in ms, over the measured window.
	LatencyP50Ms figure `json:"latency_p50_ms"`
	LatencyP99Ms figure `json:"latency_p99_ms"`
	LatencyMaxMs figure `json:"latency_max_ms"`
	// CPUSeconds is the whole process's CPU time (user+system) over the
	// measured window: upstream, relay and clients together.
	CPUSeconds figure `json:"cpu_seconds"`
	// CPUPerSecond is CPUSeconds divided by the window (cores busy).
	CPUPerSecond figure `json:"cpu_cores_busy"`
	// CPUUsPerToken is CPUSeconds in µs divided by the tokens the clients
	// received within the window (whenever they were due): the whole
	// process's CPU (upstream and clients included) per delivered token.
	// Counting what arrived in the window, not what was due in it, keeps a
	// system that falls behind from spreading its window's tokens' work
	// past the window the CPU is measured over.
	CPUUsPerToken figure `json:"cpu_us_per_token"`
	// AllocBytesPerToken is the whole process's heap allocation over the
	// window (runtime.MemStats.TotalAlloc) per token delivered in it, and
	// GCCycles the garbage collections that ran in the window: under
	// saturation a collection's marking takes a share of the two cores,
	// and its assists slow whoever allocates.
	AllocBytesPerToken figure `json:"alloc_bytes_per_token"`
	GCCycles           figure `json:"gc_cycles"`
	// SwitchesPerToken is the whole process's context switches over the
	// window (getrusage: voluntary and not) per token delivered in it: a
	// thread that runs out of goroutines sleeps, and the next hand-off
	// wakes it, so a path with more hand-offs per token shows here.
	SwitchesPerToken figure `json:"context_switches_per_token"`
	// PeakRSSMB is the process's highest RSS during the round.
	PeakRSSMB figure `json:"peak_rss_mb"`
	// TokensPerSec delivered to the clients in the window.
	TokensPerSec figure `json:"tokens_per_s"`
	// Delivered is the share of the window's tokens that reached the
	// clients by the round's deadline (the window's end plus 5 s); below
	// 1 the system could not keep up and the latencies above leave the
	// late tokens out.
	Delivered figure `json:"delivered"`
	// Missing and Duplicated are tokens skipped or repeated within what
	// arrived: a correctness check, 0 whether or not the system keeps up.
	Missing    int `json:"missing"`
	Duplicated int `json:"duplicated"`
	// FailedStreams ended otherwise than completed before the deadline
	// (an error, not lateness); Unfinished were still running at the
	// deadline and were dropped.
	FailedStreams int `json:"failed_streams"`
	Unfinished    int `json:"unfinished"`
	// Failures counts the failed streams by reason.
	Failures map[string]int `json:"failures,omitempty"`
	// PeakOpenFiles is the process's most open descriptors in a round.
	PeakOpenFiles int `json:"peak_open_files"`
}

type concRun struct {
	Streams      int                   `json:"streams"`
	Rate         float64               `json:"tokens_per_s_per_stream"`
	RampS        float64               `json:"ramp_s"`
	WindowS      float64               `json:"window_s"`
	Rounds       int                   `json:"rounds"`
	UpstreamHTTP string                `json:"upstream_http"`
	Systems      map[string]concSystem `json:"systems"`
	// AddedP99Ms is Armistice's p99 token latency minus direct's, per
	// round; BaselineAddedP99Ms the same for the baseline.
	AddedP99Ms         figure `json:"added_p99_ms"`
	BaselineAddedP99Ms figure `json:"baseline_added_p99_ms"`
	// CPURatio is Armistice's CPU over the baseline's; CPUPerTokenRatio
	// the same per delivered token.
	CPURatio         figure `json:"cpu_ratio_vs_baseline"`
	CPUPerTokenRatio figure `json:"cpu_per_token_ratio_vs_baseline"`
	// P99Ratio is Armistice's p99 token latency over the baseline's, per
	// round (the two measured in the same rotation).
	P99Ratio figure `json:"p99_ratio_vs_baseline"`
	// Lost is tokens missing or duplicated within the streams, all
	// systems: must be 0. FailedStreams (all systems) ended otherwise
	// than completed or late.
	Lost          int `json:"lost"`
	FailedStreams int `json:"failed_streams"`
	// ArmisticeDelivered is Armistice's Delivered median; below 0.999 it
	// did not keep up and its added p99 understates the delay.
	ArmisticeDelivered float64 `json:"armistice_delivered"`
}

// ladderStep is one short round of every system at one N.
type ladderStep struct {
	Streams      int                   `json:"streams"`
	UpstreamHTTP string                `json:"upstream_http"`
	Systems      map[string]ladderCell `json:"systems"`
	// Rounds is plan.CompareRounds up to compareStreams, else 1; each cell
	// is the rounds' median, and P99Ratio has Armistice's p99 over the
	// baseline's per round.
	Rounds   int     `json:"rounds"`
	P99Ratio *figure `json:"p99_ratio_vs_baseline,omitempty"`
}

type ladderCell struct {
	P99Ms     float64 `json:"latency_p99_ms"`
	AddedMs   float64 `json:"added_p99_ms"`
	Delivered float64 `json:"delivered"`
	Cores     float64 `json:"cpu_cores_busy"`
	CPUUsTok  float64 `json:"cpu_us_per_token"`
	AllocBTok float64 `json:"alloc_bytes_per_token"`
	GCCycles  float64 `json:"gc_cycles"`
	SwTok     float64 `json:"context_switches_per_token"`
	Lost      int     `json:"lost"`
	// KeptUp: every token of the window delivered (≥ 99.9 %) and none
	// lost; Within5ms: also a p99 at most 5 ms above direct's (direct:
	// at most 5 ms).
	KeptUp    bool `json:"kept_up"`
	Within5ms bool `json:"within_5ms"`
}

type concurrentResult struct {
	// Ladder is short rounds per N (plan.roundsAt), smallest first. Sustained is the
	// largest N (ladder or main run) at which each system kept up;
	// Within5ms the largest at which it also stayed within 5 ms p99 of
	// direct.
	Ladder    []ladderStep   `json:"ladder"`
	Sustained map[string]int `json:"sustained_streams"`
	Within5ms map[string]int `json:"within_5ms_streams"`
	// Requested is the plan's N; Main.Streams what ran (the open-file
	// limit may cap it).
	Requested int     `json:"requested"`
	Main      concRun `json:"main"`
	// Max is one round at the largest N the open-file limit allows, when
	// the plan asks for it.
	Max  *concRun `json:"max,omitempty"`
	Note string   `json:"note,omitempty"`
	// Procs is GOMAXPROCS, the processors a system can keep busy: the
	// comparison's saturation is judged against it.
	Procs int `json:"gomaxprocs"`
	// Compare is the three systems side by side at compareStreams (the
	// issue's relative targets), or at the main run's N when the plan
	// runs no round of compareStreams.
	Compare *comparison `json:"comparison,omitempty"`
}

// compareStreams is the stream count of the relative targets: Armistice's
// p99 token latency and CPU per delivered token against the seed's design.
const compareStreams = 1000

// comparison is one stream count's figures per system (medians), and
// Armistice's ratios to the baseline.
type comparison struct {
	Streams int    `json:"streams"`
	From    string `json:"from"` // "main" or "ladder"
	// P99Ms, CPUUsPerToken, Cores and Delivered are per system.
	P99Ms         map[string]float64 `json:"latency_p99_ms"`
	CPUUsPerToken map[string]float64 `json:"cpu_us_per_token"`
	Cores         map[string]float64 `json:"cpu_cores_busy"`
	Delivered     map[string]float64 `json:"delivered"`
	// AllocBytesPerToken and GCCycles are per system (see concSystem).
	AllocBytesPerToken map[string]float64 `json:"alloc_bytes_per_token"`
	GCCycles           map[string]float64 `json:"gc_cycles"`
	SwitchesPerToken   map[string]float64 `json:"context_switches_per_token"`
	// P99Ratio and CPUPerTokenRatio are Armistice's over the baseline's;
	// AddedCPURatio is the same for the CPU per token over direct's (what
	// each relay adds).
	P99Ratio         float64 `json:"p99_ratio_vs_baseline"`
	CPUPerTokenRatio float64 `json:"cpu_per_token_ratio_vs_baseline"`
	AddedCPURatio    float64 `json:"added_cpu_per_token_ratio_vs_baseline"`
	// Rounds is how many rounds the figures are the median of;
	// P99RatioRounds has the p99 ratio of each round, to show its spread.
	Rounds         int     `json:"rounds"`
	P99RatioRounds *figure `json:"p99_ratio_rounds,omitempty"`
	// Saturated is set when a relay's process kept at least
	// saturatedShare of the processors busy at Streams. CPU per delivered
	// token is then the processors' capacity over the tokens delivered,
	// the same for any system that delivers them all, and the p99 is a
	// race between backlogs: neither ratio then measures a relay's work.
	Saturated bool `json:"saturated"`
	// Unsaturated compares CPU per delivered token at the largest ladder
	// rung where neither relay's process kept more than unsaturatedShare
	// of the processors busy, when Streams is saturated.
	Unsaturated *cpuComparison `json:"unsaturated,omitempty"`
}

// saturatedShare and unsaturatedShare are the shares of the processors
// busy (the whole process's CPU over GOMAXPROCS) at and above which a
// round is saturated, and at and below which it is clearly not.
const (
	saturatedShare   = 0.9
	unsaturatedShare = 0.75
)

// cpuComparison is CPU per delivered token at one stream count, per
// system, and Armistice's ratios to the baseline (AddedRatio: of what each
// relay adds over direct).
type cpuComparison struct {
	Streams       int                `json:"streams"`
	CPUUsPerToken map[string]float64 `json:"cpu_us_per_token"`
	Cores         map[string]float64 `json:"cpu_cores_busy"`
	Ratio         float64            `json:"cpu_per_token_ratio_vs_baseline"`
	AddedRatio    float64            `json:"added_cpu_per_token_ratio_vs_baseline"`
}

// belowSaturation is the CPU comparison at the largest rung under streams
// where both relays kept up with at most unsaturatedShare of the
// processors busy, nil if there is none.
func (r *concurrentResult) belowSaturation(streams int) *cpuComparison {
	for _, st := range slices.Backward(r.Ladder) {
		b, okb := st.Systems["baseline"]
		a, oka := st.Systems["armistice"]
		d := st.Systems["direct"]
		limit := unsaturatedShare * float64(r.Procs)
		if st.Streams >= streams || !okb || !oka || !keptUp(b.Delivered, b.Lost) || !keptUp(a.Delivered, a.Lost) ||
			b.Cores > limit || a.Cores > limit || b.CPUUsTok <= 0 {
			continue
		}
		return &cpuComparison{Streams: st.Streams,
			CPUUsPerToken: map[string]float64{"direct": d.CPUUsTok, "baseline": b.CPUUsTok, "armistice": a.CPUUsTok},
			Cores:         map[string]float64{"direct": d.Cores, "baseline": b.Cores, "armistice": a.Cores},
			Ratio:         ratio3(a.CPUUsTok, b.CPUUsTok), AddedRatio: ratio3(a.CPUUsTok-d.CPUUsTok, b.CPUUsTok-d.CPUUsTok)}
	}
	return nil
}

// ratio3 is a/b to 3 decimals, 0 when b is not positive.
func ratio3(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return round3(a / b)
}

// compare builds the comparison at compareStreams from the main run or
// the ladder, else at the main run's N.
func (r *concurrentResult) compare() *comparison {
	c := &comparison{P99Ms: map[string]float64{}, CPUUsPerToken: map[string]float64{}, Cores: map[string]float64{}, Delivered: map[string]float64{},
		AllocBytesPerToken: map[string]float64{}, GCCycles: map[string]float64{}, SwitchesPerToken: map[string]float64{}}
	fromMain := func() {
		c.Streams, c.From, c.Rounds = r.Main.Streams, "main", r.Main.Rounds
		if len(r.Main.P99Ratio.Rounds) > 0 {
			c.P99RatioRounds = new(r.Main.P99Ratio)
		}
		for name, cs := range r.Main.Systems {
			c.P99Ms[name], c.CPUUsPerToken[name] = cs.LatencyP99Ms.Median, cs.CPUUsPerToken.Median
			c.Cores[name], c.Delivered[name] = cs.CPUPerSecond.Median, cs.Delivered.Median
			c.AllocBytesPerToken[name], c.GCCycles[name] = cs.AllocBytesPerToken.Median, cs.GCCycles.Median
			c.SwitchesPerToken[name] = cs.SwitchesPerToken.Median
		}
	}
	switch {
	case r.Main.Streams == compareStreams:
		fromMain()
	default:
		i := slices.IndexFunc(r.Ladder, func(st ladderStep) bool { return st.Streams == compareStreams })
		if i < 0 {
			fromMain()
			break
		}
		st := r.Ladder[i]
		c.Streams, c.From, c.Rounds, c.P99RatioRounds = st.Streams, "ladder", st.Rounds, st.P99Ratio
		for name, cell := range st.Systems {
			c.P99Ms[name], c.CPUUsPerToken[name], c.Cores[name], c.Delivered[name] = cell.P99Ms, cell.CPUUsTok, cell.Cores, cell.Delivered
			c.AllocBytesPerToken[name], c.GCCycles[name] = cell.AllocBTok, cell.GCCycles
			c.SwitchesPerToken[name] = cell.SwTok
		}
	}
	c.P99Ratio = ratio3(c.P99Ms["armistice"], c.P99Ms["baseline"])
	c.CPUPerTokenRatio = ratio3(c.CPUUsPerToken["armistice"], c.CPUUsPerToken["baseline"])
	d := c.CPUUsPerToken["direct"]
	c.AddedCPURatio = ratio3(c.CPUUsPerToken["armistice"]-d, c.CPUUsPerToken["baseline"]-d)
	if r.Procs > 0 && max(c.Cores["baseline"], c.Cores["armistice"]) >= saturatedShare*float64(r.Procs) {
		c.Saturated = true
		c.Unsaturated = r.belowSaturation(c.Streams)
	}
	return c
}

type concRound struct {
	p50, p99, maxv     float64 // ms
	cpu, cores         float64
	cpuPerToken        float64 // µs of the process's CPU per token delivered in the window
	allocPerToken      float64 // bytes allocated in the window per token delivered in it
	switchesPerToken   float64 // context switches in the window per token delivered in it
	gcs                float64 // collections in the window
	peakRSS            float64 // MB
	tps, delivered     float64
	missing, dups, bad int
	unfinished         int
	failures           map[string]int
	peakFDs            int
}

func (r *concRound) fail(why string) {
	r.bad++
	if r.failures == nil {
		r.failures = map[string]int{}
	}
	r.failures[why]++
}

// keptUp and within5ms are the ladder's criteria.
func keptUp(delivered float64, lost int) bool { return delivered >= 0.999 && lost == 0 }

func within5ms(name string, p99, directP99 float64) bool {
	if name == "direct" {
		return p99 <= 5
	}
	return p99 <= directP99+5
}

func (r *concurrentResult) note(name string, n int, p99, directP99, delivered float64, lost int) (kept, within bool) {
	kept = keptUp(delivered, lost)
	within = kept && within5ms(name, p99, directP99)
	if kept && n > r.Sustained[name] {
		r.Sustained[name] = n
	}
	if within && n > r.Within5ms[name] {
		r.Within5ms[name] = n
	}
	return kept, within
}

func (b *bench) concurrent() (*concurrentResult, error) {
	p := b.plan
	res := &concurrentResult{Requested: p.ConcStreams, Sustained: map[string]int{}, Within5ms: map[string]int{}, Procs: runtime.GOMAXPROCS(0)}
	for _, n := range p.ConcLadder {
		run, err := b.concRun(n, p.roundsAt(n, 1), p.ConcLadderRamp, p.windowAt(n, p.ConcLadderWindow), b.wantH2C(n), false)
		if err != nil {
			return nil, err
		}
		step := ladderStep{Streams: n, UpstreamHTTP: run.UpstreamHTTP, Systems: map[string]ladderCell{}, Rounds: run.Rounds}
		if run.Rounds > 1 && len(run.P99Ratio.Rounds) > 0 {
			step.P99Ratio = new(run.P99Ratio)
		}
		dp99 := run.Systems["direct"].LatencyP99Ms.Median
		for name, cs := range run.Systems {
			c := ladderCell{P99Ms: cs.LatencyP99Ms.Median, AddedMs: round2(cs.LatencyP99Ms.Median - dp99), Delivered: cs.Delivered.Median,
				Cores: cs.CPUPerSecond.Median, CPUUsTok: cs.CPUUsPerToken.Median, AllocBTok: cs.AllocBytesPerToken.Median, GCCycles: cs.GCCycles.Median,
				SwTok: cs.SwitchesPerToken.Median,
				Lost:  cs.Missing + cs.Duplicated + cs.FailedStreams}
			c.KeptUp, c.Within5ms = res.note(name, n, c.P99Ms, dp99, c.Delivered, c.Lost)
			step.Systems[name] = c
		}
		res.Ladder = append(res.Ladder, step)
	}
	n := p.ConcStreams
	h2c := b.wantH2C(n)
	if m := b.maxStreams(h2c); n > m {
		res.Note = "streams capped by the open-file limit"
		n = m
	}
	run, err := b.concRun(n, p.roundsAt(n, p.ConcRounds), p.ConcRamp, p.windowAt(n, p.ConcSteady), h2c, false)
	if err != nil {
		return nil, err
	}
	res.Main = *run
	dp99 := run.Systems["direct"].LatencyP99Ms.Median
	for name, cs := range run.Systems {
		res.note(name, n, cs.LatencyP99Ms.Median, dp99, cs.Delivered.Median, cs.Missing+cs.Duplicated+cs.FailedStreams)
	}
	if p.ConcTryMax > n {
		// A larger reserve here: the previous runs' sockets may still be
		// closing.
		m := min(p.ConcTryMax, (int(b.nofile)-2000)/fdsPerRelayStream(true))
		m = m / 100 * 100
		if m > n {
			ramp := time.Duration(float64(p.ConcRamp) * float64(m) / float64(max(n, 1)))
			mx, err := b.concRun(m, 1, ramp, p.ConcSteady, true, true)
			if err != nil {
				return nil, err
			}
			res.Max = mx
		}
		if m < p.ConcTryMax {
			res.Note += fmt.Sprintf("; the stretch run (%d asked) is capped at %d by the open-file limit (%d)", p.ConcTryMax, m, b.nofile)
		}
	}
	res.Compare = res.compare()
	return res, nil
}

func (b *bench) concRun(n, rounds int, ramp, window time.Duration, h2c, skipBaseline bool) (*concRun, error) {
	p := b.plan
	mode := b.upstreamHTTP
	if h2c {
		b.upstreamHTTP = "h2c"
	}
	// A round's deadline drops the clients that are still reading; the
	// relays then cancel their upstream calls at once, so rounds do not
	// overlap.
	sys, err := b.newSystems(n, relayOptions{engine: func(c *actors.Config) {
		c.DetachGrace = 100 * time.Millisecond
		c.PickupTimeout = 2 * time.Second
		c.Linger = 200 * time.Millisecond
	}})
	b.upstreamHTTP = mode
	if err != nil {
		return nil, err
	}
	defer sys.close()
	sys.arm.onDisconnect = "cancel"
	all := sys.all
	if skipBaseline {
		all = []system{b.env.direct, sys.arm}
	}
	run := &concRun{Streams: n, Rate: p.ConcRate, RampS: ramp.Seconds(), WindowS: window.Seconds(),
		Rounds: rounds, UpstreamHTTP: sys.UpstreamHTTP, Systems: map[string]concSystem{}}
	type acc struct{ p50, p99, maxv, cpu, cores, rss, tps, del, cpuTok, allocTok, gcs, swTok []float64 }
	accs := map[string]*acc{}
	var added, baseAdded, cpuRatio, cpuTokRatio, p99Ratio []float64
	for r := range rounds {
		got := map[string]concRound{}
		for _, s := range rotate(all, r) {
			cr, err := b.concRound(s, n, p.ConcRate, ramp, window)
			if err != nil {
				return nil, err
			}
			got[s.Name()] = cr
			a := accs[s.Name()]
			if a == nil {
				a = &acc{}
				accs[s.Name()] = a
			}
			a.p50 = append(a.p50, round2(cr.p50))
			a.p99 = append(a.p99, round2(cr.p99))
			a.maxv = append(a.maxv, round2(cr.maxv))
			a.cpu = append(a.cpu, round2(cr.cpu))
			a.cores = append(a.cores, round2(cr.cores))
			a.rss = append(a.rss, round1(cr.peakRSS))
			a.tps = append(a.tps, math.Round(cr.tps))
			a.del = append(a.del, round3(cr.delivered))
			a.cpuTok = append(a.cpuTok, round2(cr.cpuPerToken))
			a.allocTok = append(a.allocTok, math.Round(cr.allocPerToken))
			a.gcs = append(a.gcs, cr.gcs)
			a.swTok = append(a.swTok, round3(cr.switchesPerToken))
			cs := run.Systems[s.Name()]
			cs.Missing += cr.missing
			cs.Duplicated += cr.dups
			cs.FailedStreams += cr.bad
			cs.Unfinished += cr.unfinished
			cs.PeakOpenFiles = max(cs.PeakOpenFiles, cr.peakFDs)
			for k, v := range cr.failures {
				if cs.Failures == nil {
					cs.Failures = map[string]int{}
				}
				cs.Failures[k] += v
			}
			run.Systems[s.Name()] = cs
			run.Lost += cr.missing + cr.dups
			run.FailedStreams += cr.bad
			b.waitDrained(sys)
		}
		added = append(added, round2(got["armistice"].p99-got["direct"].p99))
		if bl, ok := got["baseline"]; ok {
			baseAdded = append(baseAdded, round2(bl.p99-got["direct"].p99))
			cpuRatio = append(cpuRatio, round2(got["armistice"].cpu/bl.cpu))
			if bl.p99 > 0 {
				p99Ratio = append(p99Ratio, round3(got["armistice"].p99/bl.p99))
			}
			if bl.cpuPerToken > 0 {
				cpuTokRatio = append(cpuTokRatio, round3(got["armistice"].cpuPerToken/bl.cpuPerToken))
			}
		}
	}
	for name, a := range accs {
		cs := run.Systems[name]
		cs.LatencyP50Ms, cs.LatencyP99Ms, cs.LatencyMaxMs = newFigure(a.p50), newFigure(a.p99), newFigure(a.maxv)
		cs.CPUSeconds, cs.CPUPerSecond, cs.PeakRSSMB, cs.TokensPerSec = newFigure(a.cpu), newFigure(a.cores), newFigure(a.rss), newFigure(a.tps)
		cs.Delivered, cs.CPUUsPerToken = newFigure(a.del), newFigure(a.cpuTok)
		cs.AllocBytesPerToken, cs.GCCycles = newFigure(a.allocTok), newFigure(a.gcs)
		cs.SwitchesPerToken = newFigure(a.swTok)
		run.Systems[name] = cs
	}
	run.ArmisticeDelivered = run.Systems["armistice"].Delivered.Median
	run.AddedP99Ms, run.BaselineAddedP99Ms, run.CPURatio = newFigure(added), newFigure(baseAdded), newFigure(cpuRatio)
	run.CPUPerTokenRatio, run.P99Ratio = newFigure(cpuTokRatio), newFigure(p99Ratio)
	return run, nil
}

// waitDrained waits for the relays to forget the round's requests and
// closes idle connections, so rounds do not overlap.
func (b *bench) waitDrained(sys *systems) {
	waitUntil(15*time.Second, func() bool {
		n, err := sys.arm.Registered()
		return err == nil && n == 0 && sys.seed.Registered() == 0
	})
	b.env.client.CloseIdleConnections()
	sys.arm.closeIdle()
	sys.seed.tr.CloseIdleConnections()
	if sys.proxy != nil {
		sys.proxy.closeIdle()
	}
}

// concRound runs n paced streams through s: starts spread over ramp, then
// a measured window of steady seconds; clients still reading 5 s after
// the window are dropped.
func (b *bench) concRound(s system, n int, rate float64, ramp, steady time.Duration) (concRound, error) {
	settle()
	clk := b.env.clock
	const lead = 200 * time.Millisecond
	const afterRamp = 500 * time.Millisecond
	const grace = 5 * time.Second
	begin := time.Now().Add(lead)
	winStart := begin.Add(ramp + afterRamp)
	winEnd := winStart.Add(steady)
	deadline := winEnd.Add(grace)
	total := ramp + afterRamp + steady + 500*time.Millisecond
	tokens := int(math.Ceil(total.Seconds() * rate))
	offset := clk.now() - int64(time.Since(begin))
	winStartNs, winEndNs := offset+int64(winStart.Sub(begin)), offset+int64(winEnd.Sub(begin))

	h := &hist{}
	var inWindow, recvInWindow atomic.Int64
	var mu sync.Mutex
	var out concRound
	var wg sync.WaitGroup
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	// Monitor: CPU at the window's edges, RSS every 100 ms.
	var cpu0, cpu1, sw0, sw1 float64
	var at0, at1 time.Time
	var mem0, mem1 runtime.MemStats
	var peak atomic.Int64
	monDone := make(chan struct{})
	monStop := make(chan struct{})
	go func() {
		defer close(monDone)
		var stopTrace func()
		defer func() {
			if stopTrace != nil {
				stopTrace() // the round ended before its window did
			}
		}()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		startT := time.NewTimer(time.Until(winStart))
		endT := time.NewTimer(time.Until(winEnd))
		defer startT.Stop()
		defer endT.Stop()
		for {
			select {
			case <-monStop:
				return
			case <-startT.C:
				b.writeWindowAllocs(s, n, "start")
				cpu0, sw0 = usage()
				at0 = time.Now()
				runtime.ReadMemStats(&mem0)
				stopTrace = b.startTrace(s, n)
				if stopProf := b.startWindowProfile(s, n); stopProf != nil {
					if stopTrace == nil {
						stopTrace = stopProf
					} else {
						st := stopTrace
						stopTrace = func() { st(); stopProf() }
					}
				}
			case <-endT.C:
				cpu1, sw1 = usage()
				at1 = time.Now()
				runtime.ReadMemStats(&mem1)
				if stopTrace != nil {
					stopTrace()
					stopTrace = nil
				}
				b.writeWindowAllocs(s, n, "end")
			case <-tick.C:
				if v := procStatus("VmRSS"); v > peak.Load() {
					peak.Store(v)
				}
				out.peakFDs = max(out.peakFDs, openFiles())
			}
		}
	}()

	sc := script{Tokens: tokens, Rate: rate, Stamp: true}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(begin.Add(time.Duration(int64(ramp) * int64(i) / int64(n)))))
			st, err := s.Open(ctx, sc)
			if err != nil {
				mu.Lock()
				if ctx.Err() != nil {
					out.unfinished++
				} else {
					out.fail("open: " + shortErr(err))
				}
				mu.Unlock()
				return
			}
			defer st.Close()
			t := newTally(tokens)
			var err2 error
			for {
				ev, err := st.Next()
				if err != nil {
					err2 = err
					break
				}
				t.add(ev)
				if ev.kind == evToken && ev.sent >= winStartNs && ev.sent < winEndNs {
					h.add(ev.at - ev.sent)
					inWindow.Add(1)
				}
				if ev.kind == evToken && ev.at >= winStartNs && ev.at < winEndNs {
					recvInWindow.Add(1)
				}
				if ev.kind == evEnd {
					break
				}
			}
			t.finish()
			m, d := t.lost()
			mu.Lock()
			defer mu.Unlock()
			out.missing += m
			out.dups += d
			switch {
			case t.end == "completed":
			case err2 != nil && ctx.Err() != nil:
				out.unfinished++
			case err2 != nil:
				out.fail("stream: " + shortErr(err2))
			default:
				out.fail("ended " + t.end)
			}
		}()
	}
	wg.Wait()
	close(monStop)
	<-monDone
	out.p50 = float64(h.quantile(0.50)) / 1e6
	out.p99 = float64(h.quantile(0.99)) / 1e6
	out.maxv = float64(h.maxV.Load()) / 1e6
	// Under saturation the monitor's timers fire late: divide by the
	// interval actually measured.
	out.cpu = cpu1 - cpu0
	out.cores = out.cpu / max(at1.Sub(at0).Seconds(), 1e-3)
	out.peakRSS = float64(peak.Load()) / (1 << 20)
	out.tps = float64(inWindow.Load()) / steady.Seconds()
	out.delivered = float64(inWindow.Load()) / (float64(n) * rate * steady.Seconds())
	if k := recvInWindow.Load(); k > 0 {
		out.cpuPerToken = out.cpu * 1e6 / float64(k)
		out.allocPerToken = float64(mem1.TotalAlloc-mem0.TotalAlloc) / float64(k)
		out.switchesPerToken = (sw1 - sw0) / float64(k)
	}
	out.gcs = float64(mem1.NumGC - mem0.NumGC)
	return out, nil
}

// startWindowProfile starts a CPU profile into
// "<b.windowProfile>-<system>-<n>.pprof" and returns the function that
// stops it, or nil. A failure only costs the profile.
func (b *bench) startWindowProfile(s system, n int) func() {
	if b.windowProfile == "" {
		return nil
	}
	f, err := os.Create(fmt.Sprintf("%s-%s-%d.pprof", b.windowProfile, s.Name(), n))
	if err != nil {
		return nil
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// writeWindowAllocs writes the allocation profile at one edge of s's
// window of n streams to "<b.windowAllocs>-<system>-<n>-<edge>.pprof",
// after a collection (the profile counts an allocation once a collection
// has run after it). A later round of the same n overwrites it; a failure
// only costs the profile.
func (b *bench) writeWindowAllocs(s system, n int, edge string) {
	if b.windowAllocs == "" {
		return
	}
	runtime.GC()
	f, err := os.Create(fmt.Sprintf("%s-%s-%d-%s.pprof", b.windowAllocs, s.Name(), n, edge))
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("allocs").WriteTo(f, 0)
}

// startTrace starts a runtime/trace into "<b.trace>-<n>.trace" for
// Armistice's rounds of n streams and returns the function that stops it,
// or nil. A failure only costs the trace.
func (b *bench) startTrace(s system, n int) func() {
	if b.trace == "" || s.Name() != "armistice" {
		return nil
	}
	f, err := os.Create(fmt.Sprintf("%s-%d.trace", b.trace, n))
	if err != nil {
		return nil
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil
	}
	return func() {
		trace.Stop()
		f.Close()
	}
}
