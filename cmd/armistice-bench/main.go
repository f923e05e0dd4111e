// Command armistice-bench measures Armistice side by side with its
// baselines, in one process run, on loopback:
//
//   - direct: a local upstream (Chat Completions SSE) read by the client;
//   - baseline: a minimal relay in the seed's design (a mutex-guarded
//     map, a worker goroutine and a channel per request, context-aware
//     sends, the last gasp), in this package only;
//   - armistice: the real server (package http) and engine (package
//     actors), with the llm/openai provider pointed at the local upstream;
//     the ttft scenario also reaches it through its OpenAI-compatible
//     POST /v1/chat/completions (armistice_chat, one round trip) and
//     its native submit asked for its event stream (armistice_1rt, one
//     round trip).
//
// Scenarios: per_token, relay, ttft, concurrent, idle, churn, resume,
// cancel, cluster (three Armistice nodes as processes: the cross-node
// relay, its added time to first token, and node-loss detection after a
// SIGKILL). It prints a summary, writes bench-report.json and SVG plots to
// --out, and ends with one key=value line. See docs/benchmarks.md.
//
//	go run ./cmd/armistice-bench --quick   # under 3 minutes on 2 cores
//	go run ./cmd/armistice-bench           # the full run, under 20 minutes
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

var scenarioNames = []string{"per_token", "relay", "ttft", "concurrent", "idle", "churn", "resume", "cancel", "cluster"}

type bench struct {
	plan         plan
	env          *env
	upstreamHTTP string // auto, http1 or h2c
	nofile       uint64
	// trace, when set, is the file prefix where the Armistice rounds of
	// the concurrent scenario write a runtime/trace of their measured
	// window, one file per stream count.
	trace string
	// windowProfile, when set, is the file prefix where every system's
	// concurrent rounds write a CPU profile of their measured window.
	windowProfile string
	// windowAllocs, when set, is the file prefix where every system's
	// concurrent rounds write the allocation profile at each edge of
	// their measured window, after a forced collection, so that the
	// difference is what the window allocated, by site. The forced
	// collections move the collector's phase: no latency figure of such
	// a run means anything.
	windowAllocs string
	// idleGoroutines, when set, is the file prefix where each system's
	// idle round writes every goroutine's stack at its last point.
	idleGoroutines string
}

func main() {
	// The cluster scenario starts this program again as its nodes.
	if ok, code := nodeMode(); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("armistice-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "the quick run (under 3 minutes on 2 cores)")
	out := fs.String("out", ".", "directory for bench-report.json and the SVG plots")
	only := fs.String("only", "", "comma-separated scenarios to run (default: all): "+strings.Join(scenarioNames, ","))
	provider := fs.String("provider", "openai", "the relays' provider: openai (llm/openai, the real path) or lean (a hand-written Chat Completions reader, to separate the SDK's cost from the engine's)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	traceFile := fs.String("trace", "", "write a runtime/trace of the measured window of Armistice's concurrent rounds to PREFIX-N.trace for N streams (a later round of the same N overwrites it), for go tool trace")
	memprofile := fs.String("memprofile", "", "write the whole run's allocation profile (go tool pprof -sample_index=alloc_space) to this file at the end")
	windowAllocs := fs.String("window-allocs", "", "force a collection at each edge of each system's measured window in the concurrent rounds and write the allocation profile there, to PREFIX-SYSTEM-N-start.pprof and PREFIX-SYSTEM-N-end.pprof (go tool pprof -sample_index=alloc_space -base START END: what the window allocated); the run's latency figures then mean nothing")
	windowProfile := fs.String("window-profile", "", "write a CPU profile of each system's measured window in the concurrent rounds to PREFIX-SYSTEM-N.pprof (not with -cpuprofile), to compare where each system's CPU per token goes")
	idleGoroutines := fs.String("idle-goroutines", "", "write every goroutine's stack (PREFIX-SYSTEM.txt) and a heap profile (PREFIX-SYSTEM.heap) at the last point of each system's idle round, to see what an idle stream holds")
	workers := fs.Int("workers", -1, "Armistice's actors.Config.Workers (default: the engine's default; 0: protoactor's goroutine per mailbox run), for A/B runs of the worker pool")
	compareWindow := fs.Duration("compare-window", 0, "the measured window of each round at the comparison's 1,000 streams (default: the plan's, 3 s): a window of 30s holds several collections for every system, where a 3 s window holds one or none")
	up := fs.String("upstream-http", "auto", "the relays' upstream protocol: auto (HTTP/1.1 unless the streams would not fit the open-file limit), http1 or h2c")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "armistice-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	switch *up {
	case "auto", "http1", "h2c":
	default:
		fmt.Fprintf(stderr, "armistice-bench: --upstream-http must be auto, http1 or h2c\n")
		return 2
	}
	if *workers < -1 {
		fmt.Fprintf(stderr, "armistice-bench: --workers must not be negative\n")
		return 2
	}
	if *provider != "openai" && *provider != "lean" {
		fmt.Fprintf(stderr, "armistice-bench: --provider must be openai or lean\n")
		return 2
	}
	if *compareWindow < 0 {
		fmt.Fprintf(stderr, "armistice-bench: --compare-window must not be negative\n")
		return 2
	}
	p := fullPlan()
	if *quick {
		p = quickPlan()
	}
	p.CompareWindow = *compareWindow
	var which []string
	if *only != "" {
		for _, s := range strings.Split(*only, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(scenarioNames, s) {
				fmt.Fprintf(stderr, "armistice-bench: unknown scenario %q (known: %s)\n", s, strings.Join(scenarioNames, ","))
				return 2
			}
			which = append(which, s)
		}
	}
	if *cpuprofile != "" && *windowProfile != "" {
		fmt.Fprintln(stderr, "armistice-bench: -cpuprofile and -window-profile cannot be used together (one CPU profile at a time)")
		return 2
	}
	if *windowAllocs != "" {
		// Sample finely: a 3 s window allocates tens of MB.
		runtime.MemProfileRate = 4096
	}
	if *idleGoroutines != "" {
		// Sample the heap finely, so that the idle profile's per-stream
		// items are counted rather than estimated from a few samples.
		runtime.MemProfileRate = 1024
	}
	nofile := raiseNoFile()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "armistice-bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "armistice-bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := execute(p, which, options{out: *out, upstreamHTTP: *up, provider: *provider, workers: *workers, trace: *traceFile, windowProfile: *windowProfile, windowAllocs: *windowAllocs, idleGoroutines: *idleGoroutines, nofile: nofile}, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "armistice-bench: %v\n", err)
		return 1
	}
	if *memprofile != "" {
		if err := writeAllocs(*memprofile); err != nil {
			fmt.Fprintf(stderr, "armistice-bench: %v\n", err)
			return 1
		}
	}
	fmt.Fprintln(stdout, rep.Summary)
	return 0
}

// execute runs the scenarios and writes the report and plots; it prints
// the human summary on stdout (but not the final summary line).
// options are the run's settings besides the plan.
type options struct {
	out            string
	upstreamHTTP   string // auto, http1 or h2c
	provider       string // openai or lean
	workers        int    // actors.Config.Workers, or -1 for the default
	trace          string // see bench.trace
	windowProfile  string // see bench.windowProfile
	windowAllocs   string // see bench.windowAllocs
	idleGoroutines string // see bench.idleGoroutines
	nofile         uint64
}

func execute(p plan, which []string, o options, stdout, progress io.Writer) (*report, error) {
	if len(which) == 0 {
		which = scenarioNames
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	defer e.close()
	e.provider, e.noPrewarm, e.workers = o.provider, p.NoPrewarm, o.workers
	b := &bench{plan: p, env: e, upstreamHTTP: o.upstreamHTTP, nofile: o.nofile, trace: o.trace, windowProfile: o.windowProfile, windowAllocs: o.windowAllocs, idleGoroutines: o.idleGoroutines}
	rep := &report{Tool: "armistice-bench", Mode: p.Mode, Started: time.Now().UTC().Format(time.RFC3339),
		Machine: machineInfo(), Settings: settingsOf(p, o)}
	start := time.Now()
	for i, name := range which {
		fmt.Fprintf(progress, "bench: [%d/%d] %s ...\n", i+1, len(which), name)
		t0 := time.Now()
		if err := b.runScenario(name, rep); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		e.client.CloseIdleConnections()
		fmt.Fprintf(progress, "bench: [%d/%d] %s done in %s: %s\n", i+1, len(which), name, time.Since(t0).Round(100*time.Millisecond), rep.brief(name))
	}
	rep.DurationS = round1(time.Since(start).Seconds())
	rep.finish()
	plots, err := writePlots(o.out, rep)
	if err != nil {
		return nil, err
	}
	rep.Plots = plots
	if err := rep.write(filepath.Join(o.out, "bench-report.json")); err != nil {
		return nil, err
	}
	rep.print(stdout)
	return rep, nil
}

func (b *bench) runScenario(name string, rep *report) error {
	var err error
	switch name {
	case "per_token":
		rep.Scenarios.PerToken, err = b.perToken()
	case "relay":
		rep.Scenarios.Relay, err = b.relay()
	case "ttft":
		rep.Scenarios.TTFT, err = b.ttft()
	case "concurrent":
		rep.Scenarios.Concurrent, err = b.concurrent()
	case "idle":
		rep.Scenarios.Idle, err = b.idle()
	case "churn":
		rep.Scenarios.Churn, err = b.churn()
	case "resume":
		rep.Scenarios.Resume, err = b.resume()
	case "cancel":
		rep.Scenarios.Cancel, err = b.cancel()
	case "cluster":
		rep.Scenarios.Cluster, err = b.cluster()
	}
	return err
}

// writeAllocs writes the allocation profile of everything allocated since
// the process started.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
