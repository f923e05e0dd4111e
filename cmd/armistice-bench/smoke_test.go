package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSmoke runs every scenario at a tiny size (a few streams, a few
// tokens) and checks the report's shape, the summary line and the
// correctness checks: no token lost or duplicated anywhere, every stream
// ending as it should, no goroutine or registry entry left behind.
func TestSmoke(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	traceFile := filepath.Join(out, "concurrent")
	allocsPrefix := filepath.Join(out, "window")
	rep, err := execute(tinyPlan(), nil, options{out: out, upstreamHTTP: "auto", provider: "openai", workers: -1, trace: traceFile, windowAllocs: allocsPrefix, nofile: raiseNoFile()}, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	traces, _ := filepath.Glob(traceFile + "-*.trace")
	if len(traces) == 0 {
		t.Error("no trace of Armistice's concurrent window")
	}
	for _, f := range traces {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("empty trace %s: %v", f, err)
		}
	}

	// --window-allocs: both edges of every system's window.
	for _, sys := range []string{"direct", "baseline", "armistice"} {
		for _, edge := range []string{"start", "end"} {
			files, _ := filepath.Glob(fmt.Sprintf("%s-%s-*-%s.pprof", allocsPrefix, sys, edge))
			if len(files) == 0 {
				t.Errorf("no allocation profile at the %s of %s's window", edge, sys)
			}
			for _, f := range files {
				if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
					t.Errorf("empty profile %s: %v", f, err)
				}
			}
		}
	}

	// The summary line: every key, each a number.
	fields := strings.Fields(rep.Summary)
	if len(fields) != len(summaryKeys)+1 || fields[0] != "bench:" {
		t.Fatalf("summary %q", rep.Summary)
	}
	for i, k := range summaryKeys {
		name, v, ok := strings.Cut(fields[i+1], "=")
		if !ok || name != k {
			t.Fatalf("summary field %d is %q, want %s=…", i, fields[i+1], k)
		}
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			t.Fatalf("summary %s=%q is not a number", k, v)
		}
	}
	if !strings.Contains(stdout.String(), "targets") {
		t.Fatalf("the human summary has no targets:\n%s", stdout.String())
	}

	// The report on disk: one object per scenario, machine info.
	data, err := os.ReadFile(filepath.Join(out, "bench-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Machine   map[string]any            `json:"machine"`
		Scenarios map[string]map[string]any `json:"scenarios"`
		Targets   []targetResult            `json:"targets"`
		Summary   string                    `json:"summary"`
		Plots     []string                  `json:"plots"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cpu_model", "cores", "go_version"} {
		if _, ok := doc.Machine[k]; !ok {
			t.Errorf("machine info has no %s", k)
		}
	}
	for _, name := range scenarioNames {
		if len(doc.Scenarios[name]) == 0 {
			t.Errorf("report has no %s scenario", name)
		}
	}
	if doc.Summary != rep.Summary {
		t.Errorf("report summary %q, printed %q", doc.Summary, rep.Summary)
	}
	for _, p := range doc.Plots {
		b, err := os.ReadFile(filepath.Join(out, p))
		if err != nil || !bytes.HasPrefix(b, []byte("<svg")) {
			t.Errorf("plot %s: %v", p, err)
		}
	}
	if len(doc.Plots) != 6 {
		t.Errorf("plots %v, want 6", doc.Plots)
	}

	// Correctness: these hold at any size, on any machine.
	s := rep.Scenarios
	if s.Relay.Missing+s.Relay.Duplicated != 0 || s.TTFT.Missing+s.TTFT.Duplicated != 0 {
		t.Errorf("relay lost %d/%d, ttft lost %d/%d", s.Relay.Missing, s.Relay.Duplicated, s.TTFT.Missing, s.TTFT.Duplicated)
	}
	// The single-round-trip path (POST /v1/chat/completions) ran with the
	// sequential TTFT, and only there; its tokens count in TTFT.Missing.
	seq := s.TTFT.Sequential
	if ts, ok := seq.Systems[chatName]; !ok || ts.P50.Median <= 0 || len(seq.samples[chatName]) != tinyPlan().TTFTRequests {
		t.Errorf("ttft sequential %s: %+v, %d samples", chatName, ts, len(seq.samples[chatName]))
	}
	if seq.ChatAddedP50 == nil || seq.ChatAddedP99 == nil || len(seq.ChatAddedP50.Rounds) != tinyPlan().Rounds {
		t.Errorf("ttft sequential chat added: %v, %v", seq.ChatAddedP50, seq.ChatAddedP99)
	}
	if _, ok := s.TTFT.Concurrent.Systems[chatName]; ok || s.TTFT.Concurrent.ChatAddedP50 != nil {
		t.Errorf("ttft concurrent has %s", chatName)
	}
	if _, ok := doc.Scenarios["ttft"]["sequential"].(map[string]any)["chat_added_p50_us"]; !ok {
		t.Errorf("report's ttft.sequential has no chat_added_p50_us")
	}
	// So did the native API in one round trip (a submit asking for its
	// event stream).
	if ts, ok := seq.Systems[oneTripName]; !ok || ts.P50.Median <= 0 || len(seq.samples[oneTripName]) != tinyPlan().TTFTRequests {
		t.Errorf("ttft sequential %s: %+v, %d samples", oneTripName, ts, len(seq.samples[oneTripName]))
	}
	if seq.OneTripAddedP50 == nil || seq.OneTripAddedP99 == nil || len(seq.OneTripAddedP50.Rounds) != tinyPlan().Rounds {
		t.Errorf("ttft sequential one-trip added: %v, %v", seq.OneTripAddedP50, seq.OneTripAddedP99)
	}
	if _, ok := s.TTFT.Concurrent.Systems[oneTripName]; ok {
		t.Errorf("ttft concurrent has %s", oneTripName)
	}
	singleTripTargets := 0
	for _, tr := range rep.Targets {
		if strings.Contains(tr.Name, "single round trip") {
			singleTripTargets++
		}
	}
	if singleTripTargets != 4 || !strings.Contains(stdout.String(), chatName+" added") || !strings.Contains(stdout.String(), oneTripName+" added") {
		t.Errorf("%d single-round-trip targets; summary:\n%s", singleTripTargets, stdout.String())
	}
	// The floor (a bare reverse proxy) ran with the sequential TTFT and
	// the idle rounds, and its figures reach the report, the summary line
	// and the targets' notes.
	if ts, ok := seq.Systems[proxyName]; !ok || ts.P50.Median <= 0 || len(seq.samples[proxyName]) != tinyPlan().TTFTRequests {
		t.Errorf("ttft sequential %s: %+v, %d samples", proxyName, ts, len(seq.samples[proxyName]))
	}
	if seq.ProxyAddedP50 == nil || seq.ProxyAddedP99 == nil || len(seq.ProxyAddedP50.Rounds) != tinyPlan().Rounds {
		t.Errorf("ttft sequential proxy added: %v, %v", seq.ProxyAddedP50, seq.ProxyAddedP99)
	}
	if _, ok := s.TTFT.Concurrent.Systems[proxyName]; ok {
		t.Errorf("ttft concurrent has %s", proxyName)
	}
	if is, ok := s.Idle.Systems[proxyName]; !ok || is.KBPerStream <= 0 || len(s.Idle.ProxyKBPerStream.Rounds) != tinyPlan().IdleRounds {
		t.Errorf("idle %s: %+v, floor %v", proxyName, is, s.Idle.ProxyKBPerStream)
	}
	floorNotes := 0
	for _, tr := range rep.Targets {
		if strings.Contains(tr.Note, "floor, a bare reverse proxy") {
			floorNotes++
		}
	}
	if floorNotes != 7 || !strings.Contains(stdout.String(), proxyName+" added") {
		t.Errorf("%d targets note the floor, want 7 (six sequential TTFT, idle); summary:\n%s", floorNotes, stdout.String())
	}
	if s.Concurrent.Main.Lost+s.Concurrent.Main.FailedStreams != 0 {
		t.Errorf("concurrent lost %d, failed streams %d", s.Concurrent.Main.Lost, s.Concurrent.Main.FailedStreams)
	}
	for name, cs := range s.Concurrent.Main.Systems {
		if cs.Missing+cs.Duplicated+cs.FailedStreams != 0 {
			t.Errorf("concurrent %s: %+v", name, cs)
		}
		// What each system allocates per delivered token is measured
		// over the window (any stream allocates).
		if cs.AllocBytesPerToken.Median <= 0 || len(cs.GCCycles.Rounds) == 0 {
			t.Errorf("concurrent %s: allocated %v B per token, GC cycles %v", name, cs.AllocBytesPerToken, cs.GCCycles)
		}
		if len(cs.SwitchesPerToken.Rounds) == 0 {
			t.Errorf("concurrent %s: no context switches per token", name)
		}
	}
	if c := s.Concurrent.Compare; c == nil || c.AllocBytesPerToken["armistice"] <= 0 || !strings.Contains(stdout.String(), "allocated per token") ||
		!strings.Contains(stdout.String(), "context switches per token") {
		t.Errorf("the comparison has no allocation per token: %+v", c)
	}
	// The three systems side by side: CPU per delivered token for each,
	// in the report and the relative targets.
	if c := s.Concurrent.Compare; c == nil || c.Streams != tinyPlan().ConcStreams || c.From != "main" {
		t.Errorf("concurrent comparison %+v", c)
	} else {
		for _, name := range []string{"direct", "baseline", "armistice"} {
			if c.CPUUsPerToken[name] <= 0 || s.Concurrent.Main.Systems[name].CPUUsPerToken.Median <= 0 {
				t.Errorf("concurrent %s: CPU per token %v", name, c.CPUUsPerToken[name])
			}
		}
	}
	if _, ok := doc.Scenarios["concurrent"]["comparison"].(map[string]any)["cpu_us_per_token"]; !ok {
		t.Errorf("report's concurrent.comparison has no cpu_us_per_token")
	}
	relative := 0
	for _, tr := range rep.Targets {
		if strings.Contains(tr.Name, "Armistice / baseline") || strings.Contains(tr.Name, "minus the seed's design") {
			relative++
		}
	}
	if relative != 3 {
		t.Errorf("%d relative targets, want 3 (p99, CPU per token, idle)", relative)
	}
	if s.Resume.Gaps+s.Resume.Duplicates != 0 {
		t.Errorf("resume: %d gaps, %d duplicates", s.Resume.Gaps, s.Resume.Duplicates)
	}
	for name, cs := range s.Churn.Systems {
		if cs.Unexpected != 0 || cs.RegisteredAfter != 0 || cs.GoroutineDelta > 0 {
			t.Errorf("churn %s: %d unexpected endings (%v), %d registered after, goroutine delta %d",
				name, cs.Unexpected, cs.UnexpectedDetail, cs.RegisteredAfter, cs.GoroutineDelta)
		}
	}
	for name, cs := range s.Cancel.Systems {
		if cs.Missed+cs.NoEnd != 0 {
			t.Errorf("cancel %s: %d without an upstream abort, %d without an end", name, cs.Missed, cs.NoEnd)
		}
	}
	for _, name := range []string{"direct", "baseline", "armistice", queuedName} {
		if len(s.Idle.Systems[name].Points) != tinyPlan().IdleSteps+1 {
			t.Errorf("idle %s: points %v", name, s.Idle.Systems[name].Points)
		}
	}
	checkCluster(t, s.Cluster, rep.Targets)
}

// checkCluster checks the cluster scenario's result: both paths measured,
// every token once, and every reader of a killed owner's request ended
// failed/node_lost, with a status read through a survivor saying so.
func checkCluster(t *testing.T, c *clusterResult, targets []targetResult) {
	t.Helper()
	p := tinyPlan()
	if c == nil {
		t.Fatal("no cluster result")
	}
	if c.Missing+c.Duplicated != 0 {
		t.Errorf("cluster lost %d, duplicated %d", c.Missing, c.Duplicated)
	}
	for _, name := range []string{pathOwner, pathRemote} {
		if c.Relay.TokensPerSec[name].Median <= 0 || c.TTFT.Paths[name].P50.Median <= 0 {
			t.Errorf("cluster %s: tokens/s %v, ttft %v", name, c.Relay.TokensPerSec[name], c.TTFT.Paths[name])
		}
		if c.Replay.Paths[name].P50.Median <= 0 {
			t.Errorf("cluster %s: replay %v", name, c.Replay.Paths[name])
		}
		if len(c.ttftSamples[name]) != p.ClusterTTFTRequests {
			t.Errorf("cluster %s: %d ttft samples, want %d", name, len(c.ttftSamples[name]), p.ClusterTTFTRequests)
		}
	}
	if c.Relay.Ratio.Median <= 0 || len(c.Relay.Ratio.Rounds) != p.Rounds {
		t.Errorf("cluster relay ratio %+v", c.Relay.Ratio)
	}
	l := c.Loss
	want := p.ClusterKills * p.ClusterKillStreams * (clusterNodes - 1)
	if l.Readers != want || l.Samples != want || len(l.SamplesMs) != want || l.WrongEnd+l.StatusWrong != 0 {
		t.Errorf("cluster loss: %d readers, %d samples (want %d), wrong ends %d %v, status not node_lost %d",
			l.Readers, l.Samples, want, l.WrongEnd, l.WrongEndDetail, l.StatusWrong)
	}
	if l.P50Ms <= 0 || l.P99Ms < l.P50Ms || l.MaxMs < l.P99Ms || len(l.RestartS) != p.ClusterKills-1 {
		t.Errorf("cluster loss: p50 %v, p99 %v, max %v ms, restarts %v", l.P50Ms, l.P99Ms, l.MaxMs, l.RestartS)
	}
	n := 0
	for _, tr := range targets {
		if tr.Scenario == "cluster" {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d cluster targets, want 5", n)
	}
}

// TestLeanProvider runs the relay scenario with the diagnostic provider.
func TestLeanProvider(t *testing.T) {
	rep, err := execute(tinyPlan(), []string{"relay", "cancel"}, options{out: t.TempDir(), upstreamHTTP: "http1", provider: "lean", workers: 0, nofile: raiseNoFile()}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Scenarios.Relay; r.Missing+r.Duplicated != 0 || r.TokensPerSec["armistice"].Median <= 0 {
		t.Fatalf("relay: %+v", r)
	}
	if a := rep.Scenarios.Cancel.Systems["armistice"]; a.Missed+a.NoEnd != 0 {
		t.Fatalf("cancel: %+v", a)
	}
	if !strings.Contains(rep.Summary, "relay_ratio=") || !strings.Contains(rep.Summary, "per_token_ratio=na") {
		t.Fatalf("summary %q", rep.Summary)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"--nope"}, {"--only", "bogus"}, {"--upstream-http", "h3"}, {"--provider", "x"}, {"extra"}} {
		if code := run(args, io.Discard, io.Discard); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}
