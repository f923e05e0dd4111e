package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

type report struct {
	Tool      string         `json:"tool"`
	Mode      string         `json:"mode"`
	Started   string         `json:"started"`
	DurationS float64        `json:"duration_s"`
	Machine   machine        `json:"machine"`
	Settings  map[string]any `json:"settings"`
	Scenarios struct {
		PerToken   *perTokenResult   `json:"per_token,omitempty"`
		Relay      *relayResult      `json:"relay,omitempty"`
		TTFT       *ttftResult       `json:"ttft,omitempty"`
		Concurrent *concurrentResult `json:"concurrent,omitempty"`
		Idle       *idleResult       `json:"idle,omitempty"`
		Churn      *churnResult      `json:"churn,omitempty"`
		Resume     *resumeResult     `json:"resume,omitempty"`
		Cancel     *cancelResult     `json:"cancel,omitempty"`
		Cluster    *clusterResult    `json:"cluster,omitempty"`
	} `json:"scenarios"`
	Targets []targetResult `json:"targets"`
	Plots   []string       `json:"plots"`
	Summary string         `json:"summary"`
}

type targetResult struct {
	Scenario string  `json:"scenario"`
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Op       string  `json:"op"`
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"`
	Met      bool    `json:"met"`
	Note     string  `json:"note,omitempty"`
}

func settingsOf(p plan, o options) map[string]any {
	return map[string]any{
		"upstream_http_flag": o.upstreamHTTP,
		"provider":           o.provider,
		"workers_flag":       o.workers,
		"plan":               p,
		"engine":             "actors.DefaultConfig with MaxActive and MaxQueued 65536, Linger 1s (resume: 10m; churn: see the scenario); http.DefaultConfig",
		"baseline":           "channel buffer 64, pickup 1s, janitor every 250ms",
		"client":             "net/http, HTTP/1.1, one connection per concurrent stream",
		"cluster":            "three node processes (this program started again as a node: engine as above with cluster ids, cluster.DefaultConfig automanaged on loopback, refresh 500 ms, unreachable 10 s), the upstream and clients in this process",
	}
}

func (r *report) write(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func le(scen, name string, v, limit float64, unit string) targetResult {
	return targetResult{Scenario: scen, Name: name, Value: v, Op: "<=", Limit: limit, Unit: unit, Met: v <= limit}
}

func ge(scen, name string, v, limit float64, unit string) targetResult {
	return targetResult{Scenario: scen, Name: name, Value: v, Op: ">=", Limit: limit, Unit: unit, Met: v >= limit}
}

func eq(scen, name string, v, want float64, unit string) targetResult {
	return targetResult{Scenario: scen, Name: name, Value: v, Op: "==", Limit: want, Unit: unit, Met: v == want}
}

// summaryKeys are the fields of the last line, in order.
var summaryKeys = []string{
	"per_token_ratio", "relay_ratio", "ttft_added_p50_us", "ttft_added_p99_us", "concurrent_p99_added_ms",
	"idle_kb_per_stream", "churn_goroutine_delta", "churn_heap_ratio", "resume_p99_ms",
	"ttft200_added_p50_us", "ttft200_added_p99_us", "cancel_abort_p50_ms", "cancel_abort_p99_ms",
	"ttft_chat_added_p50_us", "ttft_chat_added_p99_us",
	"cpu_us_per_token_armistice", "cpu_us_per_token_baseline", "cpu_us_per_token_direct",
	"within_5ms_direct", "within_5ms_baseline", "within_5ms_armistice",
	"cluster_relay_ratio", "cluster_ttft_added_p50_us", "cluster_ttft_added_p99_us", "cluster_loss_p50_ms", "cluster_loss_p99_ms",
	"ttft_proxy_added_p50_us", "ttft_proxy_added_p99_us", "idle_kb_per_stream_proxy",
	"cpu_ratio_unsaturated", "cpu_ratio_unsaturated_streams",
	"ttft_1rt_added_p50_us", "ttft_1rt_added_p99_us",
}

// finish computes the targets and the summary line.
func (r *report) finish() {
	s := &r.Scenarios
	vals := map[string]string{}
	set := func(k string, v float64) { vals[k] = strconv.FormatFloat(round3(v), 'f', -1, 64) }
	var t []targetResult
	if p := s.PerToken; p != nil {
		set("per_token_ratio", p.Ratio.Median)
		t = append(t, le("per_token", "engine/channel ns per token", p.Ratio.Median, 1.25, "x"))
	}
	if p := s.Relay; p != nil {
		set("relay_ratio", p.Ratio.Median)
		t = append(t, ge("relay", "armistice/baseline tokens per second", p.Ratio.Median, 0.95, "x"))
		t = append(t, eq("relay", "tokens missing or duplicated", float64(p.Missing+p.Duplicated), 0, "tokens"))
	}
	if p := s.TTFT; p != nil {
		set("ttft_added_p50_us", p.Sequential.AddedP50.Median)
		set("ttft_added_p99_us", p.Sequential.AddedP99.Median)
		set("ttft200_added_p50_us", p.Concurrent.AddedP50.Median)
		set("ttft200_added_p99_us", p.Concurrent.AddedP99.Median)
		t = append(t,
			le("ttft", "added TTFT p50, sequential", p.Sequential.AddedP50.Median, 150, "µs"),
			le("ttft", "added TTFT p99, sequential", p.Sequential.AddedP99.Median, 500, "µs"),
			le("ttft", fmt.Sprintf("added TTFT p50, %d concurrent", p.Concurrent.Streams), p.Concurrent.AddedP50.Median, 150, "µs"),
			le("ttft", fmt.Sprintf("added TTFT p99, %d concurrent", p.Concurrent.Streams), p.Concurrent.AddedP99.Median, 500, "µs"),
		)
		// The single-round-trip routes: two extra rows each against the
		// same targets.
		for _, row := range []struct {
			key, route, note string
			p50, p99         *figure
		}{
			{"ttft_chat", "single round trip", "extra row: Armistice through POST /v1/chat/completions (stream), one round trip like direct",
				p.Sequential.ChatAddedP50, p.Sequential.ChatAddedP99},
			{"ttft_1rt", "native single round trip", "extra row: Armistice's native API in one round trip, POST /v1/requests with Accept: text/event-stream",
				p.Sequential.OneTripAddedP50, p.Sequential.OneTripAddedP99},
		} {
			if row.p50 == nil || row.p99 == nil {
				continue
			}
			set(row.key+"_added_p50_us", row.p50.Median)
			set(row.key+"_added_p99_us", row.p99.Median)
			t50 := le("ttft", "added TTFT p50, sequential, "+row.route, row.p50.Median, 150, "µs")
			t99 := le("ttft", "added TTFT p99, sequential, "+row.route, row.p99.Median, 500, "µs")
			t50.Note, t99.Note = row.note, row.note
			t = append(t, t50, t99)
		}
		if x50, x99 := p.Sequential.ProxyAddedP50, p.Sequential.ProxyAddedP99; x50 != nil && x99 != nil {
			set("ttft_proxy_added_p50_us", x50.Median)
			set("ttft_proxy_added_p99_us", x99.Median)
			// The floor goes with every sequential TTFT target: no relay
			// on net/http adds less than the extra hop itself.
			for i := range t {
				if t[i].Scenario == "ttft" && strings.Contains(t[i].Name, "sequential") {
					if t[i].Note != "" {
						t[i].Note += "; "
					}
					t[i].Note += fmt.Sprintf("floor, a bare reverse proxy: p50 %+.0f, p99 %+.0f µs", x50.Median, x99.Median)
				}
			}
		}
	}
	if p := s.Concurrent; p != nil {
		set("concurrent_p99_added_ms", p.Main.AddedP99Ms.Median)
		name := fmt.Sprintf("added p99 token latency, %d streams × %g tok/s", p.Main.Streams, p.Main.Rate)
		tr := le("concurrent", name, p.Main.AddedP99Ms.Median, 5, "ms")
		tr.Note = fmt.Sprintf("kept up: direct %d, baseline %d, armistice %d streams; within 5 ms: %d, %d, %d",
			p.Sustained["direct"], p.Sustained["baseline"], p.Sustained["armistice"], p.Within5ms["direct"], p.Within5ms["baseline"], p.Within5ms["armistice"])
		if p.Main.Streams < p.Requested {
			tr.Note += fmt.Sprintf("; ran %d of the %d streams asked: %s", p.Main.Streams, p.Requested, p.Note)
		}
		t = append(t, tr, ge("concurrent", "share of the window's tokens Armistice delivered by the deadline", p.Main.ArmisticeDelivered, 0.999, ""),
			eq("concurrent", "tokens lost or duplicated within the streams", float64(p.Main.Lost), 0, "tokens"))
		fs := eq("concurrent", "streams that failed (not merely late)", float64(p.Main.FailedStreams), 0, "streams")
		for name, cs := range p.Main.Systems {
			for why, n := range cs.Failures {
				fs.Note += fmt.Sprintf("%s: %d × %s; ", name, n, why)
			}
		}
		fs.Note = strings.TrimSuffix(fs.Note, "; ")
		t = append(t, fs)
		for _, name := range []string{"direct", "baseline", "armistice"} {
			set("within_5ms_"+name, float64(p.Within5ms[name]))
		}
		if c := p.Compare; c != nil {
			t = append(t, compareTargets(c, set)...)
		}
	}
	if p := s.Idle; p != nil {
		set("idle_kb_per_stream", p.KBPerStream.Median)
		tr := le("idle", fmt.Sprintf("RSS per idle stream (Armistice over direct, %d streams)", p.Streams), p.KBPerStream.Median, 45, "KB")
		tr.Note = p.Note
		if len(p.ProxyKBPerStream.Rounds) > 0 {
			set("idle_kb_per_stream_proxy", p.ProxyKBPerStream.Median)
			if tr.Note != "" {
				tr.Note += "; "
			}
			tr.Note += fmt.Sprintf("floor, a bare reverse proxy over direct: %.1f KB", p.ProxyKBPerStream.Median)
		}
		eng := le("idle", "RSS per idle stream, Armistice minus the seed's design (both over direct)", p.EngineKBPerStream.Median, 0, "KB")
		eng.Note = fmt.Sprintf("baseline over direct %.1f KB, Armistice %.1f KB", p.Systems["baseline"].AddedKBPerStream, p.Systems["armistice"].AddedKBPerStream)
		t = append(t, tr, eng)
	}
	if p := s.Churn; p != nil {
		if a, ok := p.Systems["armistice"]; ok {
			set("churn_goroutine_delta", float64(a.GoroutineDelta))
			set("churn_heap_ratio", a.HeapRatio)
			t = append(t,
				eq("churn", "goroutines after the last cycle minus before", float64(a.GoroutineDelta), 0, "goroutines"),
				le("churn", "heap after the last cycle / after the first", a.HeapRatio, 1.1, "x"),
				eq("churn", "registry size after cleanup", float64(a.RegisteredAfter), 0, "requests"),
				eq("churn", "streams that did not end as they should", float64(a.Unexpected), 0, "streams"),
			)
		}
	}
	if p := s.Resume; p != nil {
		set("resume_p99_ms", p.FirstP99Ms.Median)
		t = append(t,
			le("resume", "time to the first replayed record p99", p.FirstP99Ms.Median, 1, "ms"),
			eq("resume", "gaps or duplicates", float64(p.Gaps+p.Duplicates), 0, "records"),
		)
	}
	if p := s.Cancel; p != nil {
		if a, ok := p.Systems["armistice"]; ok {
			set("cancel_abort_p50_ms", a.P50Ms.Median)
			set("cancel_abort_p99_ms", a.P99Ms.Median)
			t = append(t, le("cancel", "cancel to upstream abort p99", a.P99Ms.Median, 5, "ms"),
				eq("cancel", "cancels without an upstream abort or an end event", float64(a.Missed+a.NoEnd), 0, "cancels"))
		}
	}
	if p := s.Cluster; p != nil {
		set("cluster_relay_ratio", p.Relay.Ratio.Median)
		set("cluster_ttft_added_p50_us", p.TTFT.AddedP50.Median)
		set("cluster_ttft_added_p99_us", p.TTFT.AddedP99.Median)
		l := &p.Loss
		if l.Samples > 0 {
			set("cluster_loss_p50_ms", l.P50Ms)
			set("cluster_loss_p99_ms", l.P99Ms)
		}
		rel := ge("cluster", "one stream's tokens per second through a remote node / through the owner", p.Relay.Ratio.Median, 0.5, "x")
		rel.Note = fmt.Sprintf("owner %.0f, remote %.0f tokens/s", p.Relay.TokensPerSec[pathOwner].Median, p.Relay.TokensPerSec[pathRemote].Median)
		ttft := le("cluster", "added TTFT p99 through a remote node (over the owner)", p.TTFT.AddedP99.Median, 1000, "µs")
		ttft.Note = fmt.Sprintf("p50 added %.0f µs; owner p99 %.0f, remote p99 %.0f µs; replay of a completed request adds p50 %.0f, p99 %.0f µs",
			p.TTFT.AddedP50.Median, p.TTFT.Paths[pathOwner].P99.Median, p.TTFT.Paths[pathRemote].P99.Median, p.Replay.AddedP50.Median, p.Replay.AddedP99.Median)
		loss := le("cluster", "SIGKILL of the owner → end failed/node_lost at a reader on another node, p99", l.P99Ms, 2000, "ms")
		loss.Met = loss.Met && l.Samples > 0
		loss.Note = fmt.Sprintf("p50 %.0f, max %.0f ms over %d readers of %d kills", l.P50Ms, l.MaxMs, l.Samples, l.Kills)
		t = append(t, rel, ttft, loss,
			eq("cluster", "readers not ended failed/node_lost within 20 s, status reads not failed/node_lost", float64(l.WrongEnd+l.StatusWrong), 0, ""),
			eq("cluster", "tokens missing or duplicated", float64(p.Missing+p.Duplicated), 0, "tokens"))
	}
	r.Targets = t
	var b strings.Builder
	b.WriteString("bench:")
	for _, k := range summaryKeys {
		v, ok := vals[k]
		if !ok {
			v = "na"
		}
		b.WriteString(" " + k + "=" + v)
	}
	r.Summary = b.String()
}

// compareTargets are the relative targets at c.Streams: p99 token
// latency at most the baseline's, CPU per delivered token at most 1.05×
// the baseline's; set records the CPU figures for the summary line.
func compareTargets(c *comparison, set func(string, float64)) []targetResult {
	for _, name := range []string{"direct", "baseline", "armistice"} {
		set("cpu_us_per_token_"+name, c.CPUUsPerToken[name])
	}
	p99 := le("concurrent", fmt.Sprintf("p99 token latency at %d streams, Armistice / baseline", c.Streams), c.P99Ratio, 1, "x")
	p99.Note = fmt.Sprintf("direct %.2f, baseline %.2f, armistice %.2f ms (delivered %.3f, %.3f, %.3f; %s)",
		c.P99Ms["direct"], c.P99Ms["baseline"], c.P99Ms["armistice"], c.Delivered["direct"], c.Delivered["baseline"], c.Delivered["armistice"], c.roundsNote())
	cpu := le("concurrent", fmt.Sprintf("CPU per delivered token at %d streams (whole process), Armistice / baseline", c.Streams), c.CPUPerTokenRatio, 1.05, "x")
	cpu.Note = fmt.Sprintf("direct %.2f, baseline %.2f, armistice %.2f µs per token; over direct's, Armistice / baseline %.2f",
		c.CPUUsPerToken["direct"], c.CPUUsPerToken["baseline"], c.CPUUsPerToken["armistice"], c.AddedCPURatio)
	if !c.Saturated {
		// The comparison's own figure is the one below saturation.
		set("cpu_ratio_unsaturated", c.CPUPerTokenRatio)
		set("cpu_ratio_unsaturated_streams", float64(c.Streams))
		return []targetResult{p99, cpu}
	}
	sat := fmt.Sprintf("; saturated: %.2f (baseline) and %.2f (armistice) processors busy, so CPU per token is the capacity over the tokens and the p99 a race of backlogs",
		c.Cores["baseline"], c.Cores["armistice"])
	p99.Note += sat
	cpu.Note += sat
	u := c.Unsaturated
	if u == nil {
		return []targetResult{p99, cpu}
	}
	set("cpu_ratio_unsaturated", u.Ratio)
	set("cpu_ratio_unsaturated_streams", float64(u.Streams))
	below := le("concurrent", fmt.Sprintf("CPU per delivered token below saturation (%d streams, whole process), Armistice / baseline", u.Streams), u.Ratio, 1.05, "x")
	below.Note = fmt.Sprintf("direct %.2f, baseline %.2f, armistice %.2f µs per token (%.2f, %.2f, %.2f processors busy); over direct's, Armistice / baseline %.2f; the benchmark's addition to the issue's target at %d streams",
		u.CPUUsPerToken["direct"], u.CPUUsPerToken["baseline"], u.CPUUsPerToken["armistice"], u.Cores["direct"], u.Cores["baseline"], u.Cores["armistice"], u.AddedRatio, c.Streams)
	return []targetResult{p99, cpu, below}
}

// roundsNote says where the comparison's figures come from: one round, or
// the median of several with each round's p99 ratio.
func (c *comparison) roundsNote() string {
	if c.Rounds <= 1 || c.P99RatioRounds == nil {
		return c.From + " round"
	}
	rs := make([]string, len(c.P99RatioRounds.Rounds))
	for i, v := range c.P99RatioRounds.Rounds {
		rs[i] = strconv.FormatFloat(v, 'f', 2, 64)
	}
	return fmt.Sprintf("%s, median of %d rounds; p99 ratio per round %s", c.From, c.Rounds, strings.Join(rs, ", "))
}

// brief is the progress line's result.
func (r *report) brief(name string) string {
	s := &r.Scenarios
	switch name {
	case "per_token":
		if p := s.PerToken; p != nil {
			return fmt.Sprintf("engine %.0f ns/token, channel %.0f, ratio %.2f", p.Engine.NsPerToken.Median, p.Channel.NsPerToken.Median, p.Ratio.Median)
		}
	case "relay":
		if p := s.Relay; p != nil {
			return fmt.Sprintf("tokens/s direct %.0f, baseline %.0f, armistice %.0f; ratio %.2f",
				p.TokensPerSec["direct"].Median, p.TokensPerSec["baseline"].Median, p.TokensPerSec["armistice"].Median, p.Ratio.Median)
		}
	case "ttft":
		if p := s.TTFT; p != nil {
			b := fmt.Sprintf("added p50/p99: sequential %.0f/%.0f µs, %d concurrent %.0f/%.0f µs",
				p.Sequential.AddedP50.Median, p.Sequential.AddedP99.Median, p.Concurrent.Streams, p.Concurrent.AddedP50.Median, p.Concurrent.AddedP99.Median)
			if c50, c99 := p.Sequential.ChatAddedP50, p.Sequential.ChatAddedP99; c50 != nil && c99 != nil {
				b += fmt.Sprintf("; %s sequential %.0f/%.0f µs", chatName, c50.Median, c99.Median)
			}
			if o50, o99 := p.Sequential.OneTripAddedP50, p.Sequential.OneTripAddedP99; o50 != nil && o99 != nil {
				b += fmt.Sprintf("; %s sequential %.0f/%.0f µs", oneTripName, o50.Median, o99.Median)
			}
			return b
		}
	case "concurrent":
		if p := s.Concurrent; p != nil {
			return fmt.Sprintf("%d streams: added p99 %.2f ms, lost %d, failed streams %d", p.Main.Streams, p.Main.AddedP99Ms.Median, p.Main.Lost, p.Main.FailedStreams)
		}
	case "idle":
		if p := s.Idle; p != nil {
			return fmt.Sprintf("%d streams: %.1f KB/stream, engine share %.1f KB", p.Streams, p.KBPerStream.Median, p.EngineKBPerStream.Median)
		}
	case "churn":
		if p := s.Churn; p != nil {
			a := p.Systems["armistice"]
			return fmt.Sprintf("goroutine delta %d, heap ratio %.2f, registry %d", a.GoroutineDelta, a.HeapRatio, a.RegisteredAfter)
		}
	case "resume":
		if p := s.Resume; p != nil {
			return fmt.Sprintf("first record p50 %.3f / p99 %.3f ms, gaps %d, dups %d", p.FirstP50Ms.Median, p.FirstP99Ms.Median, p.Gaps, p.Duplicates)
		}
	case "cancel":
		if p := s.Cancel; p != nil {
			a := p.Systems["armistice"]
			return fmt.Sprintf("armistice p50 %.3f / p99 %.3f ms", a.P50Ms.Median, a.P99Ms.Median)
		}
	case "cluster":
		if p := s.Cluster; p != nil {
			return fmt.Sprintf("remote/owner tokens/s %.2f, added TTFT p50/p99 %.0f/%.0f µs, node loss p50/p99 %.0f/%.0f ms (%d readers, %d wrong)",
				p.Relay.Ratio.Median, p.TTFT.AddedP50.Median, p.TTFT.AddedP99.Median, p.Loss.P50Ms, p.Loss.P99Ms, p.Loss.Samples, p.Loss.WrongEnd+p.Loss.StatusWrong)
		}
	}
	return ""
}

func fig(f figure, unit string, prec int) string {
	return fmt.Sprintf("%.*f %s [%.*f–%.*f]", prec, f.Median, unit, prec, f.Min, prec, f.Max)
}

// print writes the human summary.
func (r *report) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "armistice-bench (%s, relays' provider %v) on %s, %d cores, %s, nofile %d; %.0f s\n", r.Mode, r.Settings["provider"], m.CPUModel, m.Cores, m.GoVersion, m.NoFile, r.DurationS)
	fmt.Fprintln(w, "medians over rounds [min–max of the rounds]")
	s := &r.Scenarios
	if p := s.PerToken; p != nil {
		fmt.Fprintf(w, "\nper_token (%d rounds × %d tokens, in process)\n", p.Rounds, p.TokensPerRound)
		fmt.Fprintf(w, "  engine   %s, %s\n", fig(p.Engine.NsPerToken, "ns/token", 0), fig(p.Engine.AllocsPerToken, "allocs/token", 2))
		fmt.Fprintf(w, "  channel  %s, %s\n", fig(p.Channel.NsPerToken, "ns/token", 0), fig(p.Channel.AllocsPerToken, "allocs/token", 2))
		fmt.Fprintf(w, "  ratio    %s\n", fig(p.Ratio, "x", 2))
	}
	if p := s.Relay; p != nil {
		fmt.Fprintf(w, "\nrelay (1 stream × %d tokens, %d streams per round, %d rounds, relays' upstream %s)\n", p.Tokens, p.StreamsPerRound, p.Rounds, p.UpstreamHTTP)
		for _, n := range []string{"direct", "baseline", "armistice"} {
			fmt.Fprintf(w, "  %-9s %s\n", n, fig(p.TokensPerSec[n], "tokens/s", 0))
		}
		fmt.Fprintf(w, "  armistice/baseline %s, armistice/direct %s, lost %d\n", fig(p.Ratio, "x", 2), fig(p.RatioVsDirect, "x", 2), p.Missing+p.Duplicated)
	}
	if p := s.TTFT; p != nil {
		for _, part := range []struct {
			name string
			t    *ttftPart
		}{{fmt.Sprintf("sequential, %d tokens, %d requests per round", p.Sequential.Tokens, p.Sequential.Requests), &p.Sequential},
			{fmt.Sprintf("%d concurrent paced streams, %d measured per round", p.Concurrent.Streams, p.Concurrent.Requests), &p.Concurrent.ttftPart}} {
			fmt.Fprintf(w, "\nttft (%s, %d rounds)\n", part.name, part.t.Rounds)
			names := []string{"direct", "baseline", "armistice"}
			for _, n := range []string{chatName, oneTripName, proxyName} {
				if _, ok := part.t.Systems[n]; ok {
					names = append(names, n)
				}
			}
			for _, n := range names {
				ts := part.t.Systems[n]
				fmt.Fprintf(w, "  %-14s p50 %s, p99 %s\n", n, fig(ts.P50, "µs", 0), fig(ts.P99, "µs", 0))
			}
			fmt.Fprintf(w, "  armistice added: p50 %s, p99 %s (baseline added p50 %.0f, p99 %.0f µs)\n",
				fig(part.t.AddedP50, "µs", 0), fig(part.t.AddedP99, "µs", 0), part.t.BaselineAddedP50.Median, part.t.BaselineAddedP99.Median)
			if c50, c99 := part.t.ChatAddedP50, part.t.ChatAddedP99; c50 != nil && c99 != nil {
				fmt.Fprintf(w, "  %s added (one round trip, POST /v1/chat/completions): p50 %s, p99 %s\n", chatName, fig(*c50, "µs", 0), fig(*c99, "µs", 0))
			}
			if o50, o99 := part.t.OneTripAddedP50, part.t.OneTripAddedP99; o50 != nil && o99 != nil {
				fmt.Fprintf(w, "  %s added (one round trip, POST /v1/requests asking for text/event-stream): p50 %s, p99 %s\n", oneTripName, fig(*o50, "µs", 0), fig(*o99, "µs", 0))
			}
			if x50, x99 := part.t.ProxyAddedP50, part.t.ProxyAddedP99; x50 != nil && x99 != nil {
				fmt.Fprintf(w, "  %s added (the floor: a bare reverse proxy, one round trip): p50 %s, p99 %s\n", proxyName, fig(*x50, "µs", 0), fig(*x99, "µs", 0))
			}
		}
	}
	if p := s.Concurrent; p != nil {
		runs := []*concRun{&p.Main}
		if p.Max != nil {
			runs = append(runs, p.Max)
		}
		for _, c := range runs {
			fmt.Fprintf(w, "\nconcurrent (%d streams × %g tokens/s, %.0f s window, %d rounds, relays' upstream %s)\n", c.Streams, c.Rate, c.WindowS, c.Rounds, c.UpstreamHTTP)
			for _, n := range []string{"direct", "baseline", "armistice"} {
				cs, ok := c.Systems[n]
				if !ok {
					continue
				}
				fmt.Fprintf(w, "  %-9s token latency p50 %.2f / p99 %s; delivered %s; CPU %s, %s; peak RSS %s; %s; lost %d, failed %d, unfinished %d\n", n,
					cs.LatencyP50Ms.Median, fig(cs.LatencyP99Ms, "ms", 2), fig(cs.Delivered, "", 3), fig(cs.CPUPerSecond, "cores", 2), fig(cs.CPUUsPerToken, "µs/token", 1), fig(cs.PeakRSSMB, "MB", 0),
					fig(cs.TokensPerSec, "tokens/s", 0), cs.Missing+cs.Duplicated, cs.FailedStreams, cs.Unfinished)
			}
			fmt.Fprintf(w, "  armistice added p99 %s (baseline %.2f ms); tokens lost or duplicated %d; failed streams %d\n",
				fig(c.AddedP99Ms, "ms", 2), c.BaselineAddedP99Ms.Median, c.Lost, c.FailedStreams)
			for _, n := range []string{"direct", "baseline", "armistice"} {
				for why, k := range c.Systems[n].Failures {
					fmt.Fprintf(w, "    %s failed %d × %s\n", n, k, why)
				}
			}
		}
		if p.Note != "" {
			fmt.Fprintf(w, "  note: %s\n", strings.TrimPrefix(p.Note, "; "))
		}
		if len(p.Ladder) > 0 {
			fmt.Fprintf(w, "  ladder (short rounds per N, the median of %d up to %d streams): token latency p99 ms / delivered / CPU µs per token\n", max(1, p.Ladder[0].Rounds), compareStreams)
			for _, st := range p.Ladder {
				fmt.Fprintf(w, "    N=%-5d", st.Streams)
				for _, n := range []string{"direct", "baseline", "armistice"} {
					c := st.Systems[n]
					mark := ""
					switch {
					case !c.KeptUp:
						mark = " (behind)"
					case !c.Within5ms:
						mark = " (slow)"
					}
					fmt.Fprintf(w, "  %s %.2f / %.3f / %.1f%s", n, c.P99Ms, c.Delivered, c.CPUUsTok, mark)
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "  streams × %g tok/s kept up (every token delivered): direct %d, baseline %d, armistice %d; also within 5 ms p99 of direct: %d, %d, %d\n",
				p.Main.Rate, p.Sustained["direct"], p.Sustained["baseline"], p.Sustained["armistice"],
				p.Within5ms["direct"], p.Within5ms["baseline"], p.Within5ms["armistice"])
		}
		if c := p.Compare; c != nil {
			fmt.Fprintf(w, "  side by side at %d streams (%s): p99 direct %.2f, baseline %.2f, armistice %.2f ms (armistice/baseline %.2f); CPU per token direct %.1f, baseline %.1f, armistice %.1f µs (armistice/baseline %.2f, over direct %.2f)\n",
				c.Streams, c.roundsNote(), c.P99Ms["direct"], c.P99Ms["baseline"], c.P99Ms["armistice"], c.P99Ratio,
				c.CPUUsPerToken["direct"], c.CPUUsPerToken["baseline"], c.CPUUsPerToken["armistice"], c.CPUPerTokenRatio, c.AddedCPURatio)
			fmt.Fprintf(w, "  allocated per token (whole process, in the window) direct %.0f, baseline %.0f, armistice %.0f B; garbage collections in the window %.0f, %.0f, %.0f; context switches per token %.3f, %.3f, %.3f\n",
				c.AllocBytesPerToken["direct"], c.AllocBytesPerToken["baseline"], c.AllocBytesPerToken["armistice"], c.GCCycles["direct"], c.GCCycles["baseline"], c.GCCycles["armistice"],
				c.SwitchesPerToken["direct"], c.SwitchesPerToken["baseline"], c.SwitchesPerToken["armistice"])
			if c.Saturated {
				fmt.Fprintf(w, "  saturated at %d streams (processors busy: baseline %.2f, armistice %.2f of %d): CPU per token there is the capacity over the tokens\n",
					c.Streams, c.Cores["baseline"], c.Cores["armistice"], p.Procs)
			}
			if u := c.Unsaturated; u != nil {
				fmt.Fprintf(w, "  below saturation, at %d streams: CPU per token direct %.1f, baseline %.1f, armistice %.1f µs (armistice/baseline %.2f, over direct %.2f)\n",
					u.Streams, u.CPUUsPerToken["direct"], u.CPUUsPerToken["baseline"], u.CPUUsPerToken["armistice"], u.Ratio, u.AddedRatio)
			}
		}
	}
	if p := s.Idle; p != nil {
		fmt.Fprintf(w, "\nidle (%d attached silent streams, %d rounds, relays' upstream %s)\n", p.Streams, p.Rounds, p.UpstreamHTTP)
		for _, n := range []string{"direct", "baseline", "armistice", queuedName, proxyName} {
			is, ok := p.Systems[n]
			if !ok {
				continue
			}
			fmt.Fprintf(w, "  %-18s %.1f KB RSS per stream (heap %.1f, stacks %.1f, %.1f goroutines); over direct %.1f KB\n", n,
				is.KBPerStream, is.HeapKBPerStream, is.StackKBPerStream, is.GoroutinesPerStream, is.AddedKBPerStream)
		}
		fmt.Fprintf(w, "  armistice over direct %s; queued %s; engine share (armistice − baseline) %s; the floor (a bare reverse proxy) over direct %s\n",
			fig(p.KBPerStream, "KB", 1), fig(p.QueuedKBPerStream, "KB", 1), fig(p.EngineKBPerStream, "KB", 1), fig(p.ProxyKBPerStream, "KB", 1))
		if p.Note != "" {
			fmt.Fprintf(w, "  note: %s (asked %d)\n", p.Note, p.Requested)
		}
	}
	if p := s.Churn; p != nil {
		fmt.Fprintf(w, "\nchurn (%d cycles × %d streams: disconnect, cancel, upstream failure)\n", p.Cycles, p.StreamsPerCycle)
		for _, n := range []string{"baseline", "armistice"} {
			cs := p.Systems[n]
			fmt.Fprintf(w, "  %-9s goroutines %d before, delta %d after the last cycle (max %d); heap %.2f → %.2f MB (ratio %.2f); registry %d; unexpected %d\n", n,
				cs.GoroutinesBefore, cs.GoroutineDelta, cs.MaxGoroutineDelta, firstHeap(cs), lastHeap(cs), cs.HeapRatio, cs.RegisteredAfter, cs.Unexpected)
		}
	}
	if p := s.Resume; p != nil {
		fmt.Fprintf(w, "\nresume (%d records, %d reconnects per round, %d rounds)\n", p.Records, p.Reconnects, p.Rounds)
		fmt.Fprintf(w, "  first replayed record p50 %s, p99 %s; whole replay p50 %s; gaps %d, duplicates %d\n",
			fig(p.FirstP50Ms, "ms", 3), fig(p.FirstP99Ms, "ms", 3), fig(p.RestP50Ms, "ms", 2), p.Gaps, p.Duplicates)
	}
	if p := s.Cancel; p != nil {
		fmt.Fprintf(w, "\ncancel (%d cancels per round, %d rounds; cancel sent → upstream request context done)\n", p.Cancels, p.Rounds)
		for _, n := range []string{"direct", "baseline", "armistice"} {
			cs := p.Systems[n]
			fmt.Fprintf(w, "  %-9s p50 %s, p99 %s, missed %d, without end %d\n", n, fig(cs.P50Ms, "ms", 3), fig(cs.P99Ms, "ms", 3), cs.Missed, cs.NoEnd)
		}
	}
	if p := s.Cluster; p != nil {
		fmt.Fprintf(w, "\ncluster (%d node processes on loopback, automanaged membership; started and settled in %.1f s; %d rounds)\n", p.Nodes, p.StartS, p.Rounds)
		fmt.Fprintf(w, "  relay, 1 stream × %d tokens, %d per path per round: owner %s, remote %s; remote/owner %s\n", p.Relay.Tokens, p.Relay.StreamsPerRound,
			fig(p.Relay.TokensPerSec[pathOwner], "tokens/s", 0), fig(p.Relay.TokensPerSec[pathRemote], "tokens/s", 0), fig(p.Relay.Ratio, "x", 2))
		for _, n := range []string{pathOwner, pathRemote} {
			ts := p.TTFT.Paths[n]
			fmt.Fprintf(w, "  ttft %-6s (%d tokens, %d sequential per round) p50 %s, p99 %s\n", n, p.TTFT.Tokens, p.TTFT.Requests, fig(ts.P50, "µs", 0), fig(ts.P99, "µs", 0))
		}
		fmt.Fprintf(w, "  ttft added through a remote node: p50 %s, p99 %s\n", fig(p.TTFT.AddedP50, "µs", 0), fig(p.TTFT.AddedP99, "µs", 0))
		for _, n := range []string{pathOwner, pathRemote} {
			ts := p.Replay.Paths[n]
			fmt.Fprintf(w, "  replay of a completed request, first token, %-6s p50 %s, p99 %s\n", n, fig(ts.P50, "µs", 0), fig(ts.P99, "µs", 0))
		}
		fmt.Fprintf(w, "  replay added through a remote node (the subscription alone): p50 %s, p99 %s\n", fig(p.Replay.AddedP50, "µs", 0), fig(p.Replay.AddedP99, "µs", 0))
		l := &p.Loss
		fmt.Fprintf(w, "  node loss (%d SIGKILLs of the owner × %d streams × 2 readers): kill → end failed/node_lost p50 %.0f, p99 %.0f, max %.0f ms over %d readers; wrong ends %d %v, status not node_lost %d; restarts %v s\n",
			l.Kills, l.StreamsPerKill, l.P50Ms, l.P99Ms, l.MaxMs, l.Samples, l.WrongEnd, l.WrongEndDetail, l.StatusWrong, l.RestartS)
	}
	fmt.Fprintln(w, "\ntargets")
	met := 0
	for _, t := range r.Targets {
		mark := "MISSED"
		if t.Met {
			mark = "met"
			met++
		}
		fmt.Fprintf(w, "  %-6s %-10s %s: %s %s (target %s %s)", mark, t.Scenario, t.Name, strconv.FormatFloat(t.Value, 'f', -1, 64), t.Unit, t.Op, strconv.FormatFloat(t.Limit, 'f', -1, 64))
		if t.Note != "" {
			fmt.Fprintf(w, "; %s", t.Note)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  %d of %d targets met\n", met, len(r.Targets))
	if len(r.Plots) > 0 {
		fmt.Fprintf(w, "plots: %s\n", strings.Join(r.Plots, ", "))
	}
}

func firstHeap(c churnSystem) float64 {
	if len(c.Cycles) == 0 {
		return 0
	}
	return c.Cycles[0].HeapMB
}

func lastHeap(c churnSystem) float64 {
	if len(c.Cycles) == 0 {
		return 0
	}
	return c.Cycles[len(c.Cycles)-1].HeapMB
}
