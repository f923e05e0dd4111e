package main

import (
	"strconv"
	"strings"
	"testing"
)

func one(v float64) figure { return newFigure([]float64{v}) }

func concSys(p99, cpuTok, delivered float64) concSystem {
	return concSystem{LatencyP99Ms: one(p99), CPUUsPerToken: one(cpuTok), Delivered: one(delivered), CPUPerSecond: one(1)}
}

// The comparison is taken at compareStreams: from the main run when it
// ran that many streams, else from the ladder's round, else at the main
// run's N.
func TestComparisonSource(t *testing.T) {
	main := concRun{Streams: 5000, Systems: map[string]concSystem{
		"direct": concSys(3, 10, 1), "baseline": concSys(900, 20, 0.4), "armistice": concSys(800, 22, 0.4)}}
	ladder := []ladderStep{{Streams: 750}, {Streams: compareStreams, Systems: map[string]ladderCell{
		"direct": {P99Ms: 2, CPUUsTok: 10, Delivered: 1}, "baseline": {P99Ms: 30, CPUUsTok: 13, Delivered: 1}, "armistice": {P99Ms: 60, CPUUsTok: 16, Delivered: 1}},
		Rounds: 3, P99Ratio: new(newFigure([]float64{2, 0.9, 2.5}))}}
	r := &concurrentResult{Main: main, Ladder: ladder}
	c := r.compare()
	if c.Streams != compareStreams || c.From != "ladder" || c.P99Ratio != 2 || c.CPUUsPerToken["armistice"] != 16 {
		t.Fatalf("from the ladder: %+v", c)
	}
	if c.CPUPerTokenRatio != round3(16.0/13) || c.AddedCPURatio != 2 {
		t.Errorf("ratios %v, %v; want %v, 2", c.CPUPerTokenRatio, c.AddedCPURatio, round3(16.0/13))
	}
	if c.Rounds != 3 || c.P99RatioRounds == nil || c.P99RatioRounds.Min != 0.9 || c.P99RatioRounds.Max != 2.5 {
		t.Errorf("the ladder's rounds at %d did not reach the comparison: %d rounds, per-round ratios %+v", compareStreams, c.Rounds, c.P99RatioRounds)
	}
	r.Ladder = ladder[:1]
	if c := r.compare(); c.Streams != 5000 || c.From != "main" || c.P99Ms["armistice"] != 800 || c.CPUUsPerToken["baseline"] != 20 {
		t.Fatalf("no round at %d: %+v", compareStreams, c)
	}
	r.Main.Streams = compareStreams
	r.Ladder = ladder
	if c := r.compare(); c.From != "main" || c.P99Ms["baseline"] != 900 {
		t.Fatalf("main run at %d: %+v", compareStreams, c)
	}
}

// One window of 1,000 streams decides too little on a shared machine (the
// same build's p99 ratio ranged 0.97–1.76 in single windows), so every
// stream count up to the comparison's gets CompareRounds rounds, in the
// ladder and in the main run alike; larger counts keep their own.
func TestTheComparisonIsMeasuredOverSeveralRounds(t *testing.T) {
	for _, p := range []plan{quickPlan(), fullPlan()} {
		if got := p.roundsAt(compareStreams, 1); got < 3 {
			t.Errorf("%s plan: %d rounds at %d streams, want at least 3", p.Mode, got, compareStreams)
		}
		if got := p.roundsAt(compareStreams/2, 1); got < 3 {
			t.Errorf("%s plan: %d rounds at %d streams, want at least 3", p.Mode, got, compareStreams/2)
		}
		if got := p.roundsAt(5000, 2); got != 2 {
			t.Errorf("%s plan: %d rounds at 5000 streams, want 2", p.Mode, got)
		}
	}
}

// At a stream count where the relays keep the processors busy, CPU per
// delivered token is the capacity over the tokens, the same for any system
// that delivers them all: the comparison says it is saturated and adds
// the CPU comparison at the largest ladder rung below saturation.
func TestComparisonBelowSaturation(t *testing.T) {
	cell := func(p99, cpuTok, cores float64) ladderCell {
		return ladderCell{P99Ms: p99, CPUUsTok: cpuTok, Cores: cores, Delivered: 1}
	}
	rung := func(n int, d, b, a ladderCell) ladderStep {
		return ladderStep{Streams: n, Systems: map[string]ladderCell{"direct": d, "baseline": b, "armistice": a}}
	}
	r := &concurrentResult{Procs: 2, Ladder: []ladderStep{
		rung(100, cell(2, 50, 0.25), cell(3, 100, 0.5), cell(4, 120, 0.6)),
		rung(300, cell(2, 40, 0.6), cell(3, 70, 1.05), cell(4, 77, 1.16)),
		rung(500, cell(2, 35, 0.9), cell(3, 55, 1.4), cell(4, 60, 1.6)), // Armistice above 75 %
		rung(compareStreams, cell(20, 30, 1.5), cell(200, 38, 1.9), cell(300, 38.4, 1.95)),
	}}
	c := r.compare()
	if !c.Saturated {
		t.Errorf("1.95 of 2 processors busy is not called saturated")
	}
	u := c.Unsaturated
	if u == nil || u.Streams != 300 || u.Ratio != 1.1 || u.AddedRatio != round3(37.0/30) || u.CPUUsPerToken["direct"] != 40 {
		t.Fatalf("below saturation: %+v, want the 300 rung with ratio 1.1 and over direct %v", u, round3(37.0/30))
	}
	tr := compareTargets(c, func(string, float64) {})
	if len(tr) != 3 || !strings.Contains(tr[2].Name, "below saturation") || tr[2].Value != 1.1 || tr[2].Met {
		t.Errorf("targets %+v: want a third, missed, for CPU per token below saturation", tr)
	}
	if !strings.Contains(tr[1].Note, "saturated") {
		t.Errorf("the CPU target's note does not say the processors were saturated: %q", tr[1].Note)
	}

	r.Ladder[3].Systems["armistice"] = cell(300, 38.4, 1.2)
	r.Ladder[3].Systems["baseline"] = cell(200, 38, 1.1)
	if c := r.compare(); c.Saturated || c.Unsaturated != nil {
		t.Errorf("below saturation at %d streams the comparison is its own: saturated %v, %+v", compareStreams, c.Saturated, c.Unsaturated)
	}
}

func target(t *testing.T, r *report, scen, name string) targetResult {
	t.Helper()
	for _, tr := range r.Targets {
		if tr.Scenario == scen && strings.Contains(tr.Name, name) {
			return tr
		}
	}
	t.Fatalf("no %s target %q in %+v", scen, name, r.Targets)
	return targetResult{}
}

// The summary line carries each system's CPU per delivered token and the
// largest stream count it keeps within 5 ms of direct; the relative
// targets say met or missed from the figures, both ways.
func TestReportRelativeTargets(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		armP99, armCPU, armIdle float64
		p99Met, cpuMet, idleMet bool
	}{
		{"missed", 64, 16, 70.9, false, false, false},
		{"met", 30, 13.6, 44, true, true, true},
		{"just over", 33.7, 13.66, 45.1, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{}
			r.Scenarios.Concurrent = &concurrentResult{
				Main: concRun{Streams: compareStreams, Rate: 50, Systems: map[string]concSystem{
					"direct": concSys(2.75, 7.5, 1), "baseline": concSys(33.6, 13, 1), "armistice": concSys(tc.armP99, tc.armCPU, 1)}},
				Within5ms: map[string]int{"direct": 1000, "baseline": 300, "armistice": 250},
				Sustained: map[string]int{"direct": 1000, "baseline": 1000, "armistice": 1000},
			}
			r.Scenarios.Concurrent.Compare = r.Scenarios.Concurrent.compare()
			r.Scenarios.Idle = &idleResult{Streams: 2000, KBPerStream: one(tc.armIdle), EngineKBPerStream: one(round2(tc.armIdle - 44.5)),
				Systems: map[string]idleSystem{"baseline": {AddedKBPerStream: 44.5}, "armistice": {AddedKBPerStream: tc.armIdle}}}
			r.finish()
			for _, kv := range []string{
				" cpu_us_per_token_armistice=" + trimFloat(tc.armCPU), " cpu_us_per_token_baseline=13 ", " cpu_us_per_token_direct=7.5 ",
				" within_5ms_direct=1000 ", " within_5ms_baseline=300 ", " within_5ms_armistice=250",
			} {
				if !strings.Contains(r.Summary+" ", kv) {
					t.Errorf("summary %q has no %q", r.Summary, kv)
				}
			}
			if got := target(t, r, "concurrent", "p99 token latency at 1000 streams"); got.Met != tc.p99Met || got.Limit != 1 {
				t.Errorf("p99 target %+v, want met=%v", got, tc.p99Met)
			}
			if got := target(t, r, "concurrent", "CPU per delivered token at 1000"); got.Met != tc.cpuMet || got.Limit != 1.05 {
				t.Errorf("CPU target %+v, want met=%v", got, tc.cpuMet)
			}
			idle := target(t, r, "idle", "RSS per idle stream (Armistice over direct")
			eng := target(t, r, "idle", "Armistice minus the seed's design")
			if idle.Limit != 45 || idle.Met != (tc.armIdle <= 45) || eng.Met != (tc.armIdle <= 44.5) || (idle.Met && eng.Met) != tc.idleMet {
				t.Errorf("idle targets %+v, %+v; want met=%v", idle, eng, tc.idleMet)
			}
		})
	}
}

// Without the concurrent scenario the new summary fields are "na".
func TestReportNewFieldsNA(t *testing.T) {
	r := &report{}
	r.finish()
	for _, k := range []string{"cpu_us_per_token_armistice", "cpu_us_per_token_baseline", "cpu_us_per_token_direct", "within_5ms_direct", "within_5ms_baseline", "within_5ms_armistice"} {
		if !strings.Contains(r.Summary, " "+k+"=na") {
			t.Errorf("summary %q: %s not na", r.Summary, k)
		}
	}
}

// trimFloat is v as the summary line writes it.
func trimFloat(v float64) string { return strconv.FormatFloat(round3(v), 'f', -1, 64) }

// The cluster targets say met or missed from the figures, both ways; a
// loss measurement without a single node_lost end is missed and leaves
// the loss fields na.
func TestReportClusterTargets(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		ratio, addedP99, lossP99 float64
		samples, wrong           int
		relMet, ttftMet, lossMet bool
	}{
		{"met", 0.7, 900, 450, 20, 0, true, true, true},
		{"missed", 0.49, 1000.1, 2000.5, 20, 1, false, false, false},
		{"no samples", 0.5, 1000, 0, 0, 4, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{}
			c := &clusterResult{Nodes: 3}
			c.Relay.Ratio = one(tc.ratio)
			c.Relay.TokensPerSec = map[string]figure{pathOwner: one(100), pathRemote: one(100 * tc.ratio)}
			c.TTFT.AddedP50, c.TTFT.AddedP99 = one(tc.addedP99/2), one(tc.addedP99)
			c.TTFT.Paths = map[string]ttftSystem{}
			c.Loss = clusterLoss{Kills: 5, Samples: tc.samples, P50Ms: tc.lossP99 / 2, P99Ms: tc.lossP99, MaxMs: tc.lossP99, WrongEnd: tc.wrong}
			r.Scenarios.Cluster = c
			r.finish()
			if got := target(t, r, "cluster", "tokens per second through a remote node"); got.Met != tc.relMet || got.Limit != 0.5 {
				t.Errorf("relay target %+v, want met=%v", got, tc.relMet)
			}
			if got := target(t, r, "cluster", "added TTFT p99"); got.Met != tc.ttftMet || got.Limit != 1000 {
				t.Errorf("ttft target %+v, want met=%v", got, tc.ttftMet)
			}
			if got := target(t, r, "cluster", "SIGKILL of the owner"); got.Met != tc.lossMet || got.Limit != 2000 {
				t.Errorf("loss target %+v, want met=%v", got, tc.lossMet)
			}
			if got := target(t, r, "cluster", "not ended failed/node_lost"); got.Met != (tc.wrong == 0) {
				t.Errorf("wrong-end target %+v", got)
			}
			want := " cluster_relay_ratio=" + trimFloat(tc.ratio) + " "
			if !strings.Contains(r.Summary, want) {
				t.Errorf("summary %q has no %q", r.Summary, want)
			}
			loss := " cluster_loss_p99_ms=" + trimFloat(tc.lossP99) + " "
			if tc.samples == 0 {
				loss = " cluster_loss_p99_ms=na "
			}
			if !strings.Contains(r.Summary, loss) {
				t.Errorf("summary %q has no %q", r.Summary, loss)
			}
		})
	}
}
