package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Hand-written SVG line charts: axes, ticks, a legend, lines or CDF
// steps. No dependency.

var systemColor = map[string]string{"direct": "#1f77b4", "baseline": "#ff7f0e", "armistice": "#2ca02c", queuedName: "#2ca02c", chatName: "#d62728", oneTripName: "#9467bd", proxyName: "#7f7f7f"}

type series struct {
	name   string
	xs, ys []float64
	marks  bool // draw a dot at each point
	dashed bool
}

type chart struct {
	title, xlabel, ylabel string
	logX, logY            bool
	// fraction keeps the y axis at 0..1 (CDFs): no headroom.
	fraction bool
	series   []series
	note     string
}

const (
	svgW, svgH = 720, 420
	padL, padR = 72, 24
	padT, padB = 44, 58
)

func (c chart) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", padL, esc(c.title))
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), 0.0, math.Inf(-1)
	if c.logY {
		ymin = math.Inf(1)
	}
	for _, s := range c.series {
		for i := range s.xs {
			x := s.xs[i]
			if c.logX && x <= 0 {
				continue
			}
			xmin, xmax = min(xmin, x), max(xmax, x)
			ymin, ymax = min(ymin, s.ys[i]), max(ymax, s.ys[i])
		}
	}
	if math.IsInf(xmin, 1) {
		xmin, xmax, ymax = 0, 1, 1
	}
	var xt []float64
	if c.logX {
		xmin, xmax = math.Pow(10, math.Floor(math.Log10(xmin))), math.Pow(10, math.Ceil(math.Log10(xmax)))
		if xmax <= xmin {
			xmax = xmin * 10
		}
		xt = logTicks(xmin, xmax)
	} else {
		xmin, xmax, xt = niceRange(min(xmin, 0), xmax)
	}
	var yt []float64
	ylab := tickLabel
	if c.logY {
		// The ys are log₁₀ already; ticks at whole decades.
		lo, hi := math.Floor(ymin), math.Ceil(ymax)
		if hi <= lo {
			hi = lo + 1
		}
		ymin, ymax = lo, hi
		for v := lo; v <= hi; v++ {
			yt = append(yt, v)
		}
		ylab = func(v float64) string { return tickLabel(math.Pow(10, v)) }
	} else if c.fraction {
		ymin, ymax, yt = niceRange(0, 1)
	} else {
		// Headroom above the data for the legend, top left.
		ymin, ymax, yt = niceRange(ymin, ymax+(ymax-ymin)*0.2)
	}
	pw, ph := float64(svgW-padL-padR), float64(svgH-padT-padB)
	px := func(x float64) float64 {
		if c.logX {
			return float64(padL) + (math.Log10(x)-math.Log10(xmin))/(math.Log10(xmax)-math.Log10(xmin))*pw
		}
		return float64(padL) + (x-xmin)/(xmax-xmin)*pw
	}
	py := func(y float64) float64 { return float64(padT) + ph - (y-ymin)/(ymax-ymin)*ph }
	// Grid and ticks.
	for _, x := range xt {
		X := px(x)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", X, padT, X, float64(padT)+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", X, float64(padT)+ph+16, tickLabel(x))
	}
	for _, y := range yt {
		Y := py(y)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", padL, Y, float64(padL)+pw, Y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", padL-6, Y+4, ylab(y))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", padL, padT, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", float64(padL)+pw/2, svgH-18, esc(c.xlabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", float64(padT)+ph/2, esc(c.ylabel))
	// Series.
	for i, s := range c.series {
		color := systemColor[s.name]
		if color == "" {
			color = []string{"#9467bd", "#8c564b", "#e377c2"}[i%3]
		}
		var pts []string
		for j := range s.xs {
			if c.logX && s.xs[j] <= 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.xs[j]), py(s.ys[j])))
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", color, dash, strings.Join(pts, " "))
		if s.marks {
			for _, p := range pts {
				x, y, _ := strings.Cut(p, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", x, y, color)
			}
		}
		ly := padT + 16 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"%s/>`+"\n", padL+12, ly-4, padL+36, ly-4, color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", padL+42, ly, esc(s.name))
	}
	if c.note != "" {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#555">%s</text>`+"\n", padL, svgH-4, esc(c.note))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

func tickLabel(v float64) string {
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// niceRange widens [lo, hi] to round ticks (1, 2 or 5 × 10^k apart).
func niceRange(lo, hi float64) (float64, float64, []float64) {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	var t []float64
	for v := lo; v <= hi+step/2; v += step {
		t = append(t, math.Round(v/step)*step)
	}
	return lo, hi, t
}

func logTicks(lo, hi float64) []float64 {
	var t []float64
	for d := lo; d <= hi*1.0001; d *= 10 {
		t = append(t, d)
		if hi/lo <= 100 {
			if 2*d < hi {
				t = append(t, 2*d)
			}
			if 5*d < hi {
				t = append(t, 5*d)
			}
		}
	}
	slices.Sort(t)
	return t
}

// cdf turns samples into at most 300 (value, fraction) steps.
func cdf(name string, samples []float64) series {
	s := sortedCopy(samples)
	n := len(s)
	out := series{name: name}
	if n == 0 {
		return out
	}
	k := min(n, 300)
	prevY := 0.0
	for i := range k {
		idx := (i+1)*n/k - 1
		y := float64(idx+1) / float64(n)
		out.xs = append(out.xs, s[idx], s[idx])
		out.ys = append(out.ys, prevY, y)
		prevY = y
	}
	return out
}

// writePlots writes the plots the report has data for and returns their
// file names.
func writePlots(dir string, r *report) ([]string, error) {
	var charts []struct {
		file string
		c    chart
	}
	add := func(file string, c chart) {
		charts = append(charts, struct {
			file string
			c    chart
		}{file, c})
	}
	names := []string{"direct", "baseline", "armistice"}
	if t := r.Scenarios.TTFT; t != nil {
		for _, part := range []struct {
			file, title string
			p           *ttftPart
		}{
			{"ttft-sequential.svg", fmt.Sprintf("Time to first token, sequential (%d tokens; last round, %d requests each)", t.Sequential.Tokens, t.Sequential.Requests), &t.Sequential},
			{"ttft-concurrent.svg", fmt.Sprintf("Time to first token with %d concurrent paced streams (last round)", t.Concurrent.Streams), &t.Concurrent.ttftPart},
		} {
			c := chart{title: part.title, xlabel: "time to first token (µs, log scale)", ylabel: "fraction of requests", logX: true, fraction: true,
				note: fmt.Sprintf("Armistice added p50 %.0f µs, p99 %.0f µs over direct (medians of %d rounds)", part.p.AddedP50.Median, part.p.AddedP99.Median, part.p.Rounds)}
			for _, n := range names {
				c.series = append(c.series, cdf(n, part.p.samples[n]))
			}
			if c50, c99 := part.p.ChatAddedP50, part.p.ChatAddedP99; c50 != nil && c99 != nil {
				c.series = append(c.series, cdf(chatName, part.p.samples[chatName]))
				c.note = fmt.Sprintf("Added over direct, p50 / p99 (medians of %d rounds): armistice %.0f / %.0f µs, %s %.0f / %.0f µs",
					part.p.Rounds, part.p.AddedP50.Median, part.p.AddedP99.Median, chatName, c50.Median, c99.Median)
			}
			if o50, o99 := part.p.OneTripAddedP50, part.p.OneTripAddedP99; o50 != nil && o99 != nil {
				c.series = append(c.series, cdf(oneTripName, part.p.samples[oneTripName]))
				c.note += fmt.Sprintf(", %s %.0f / %.0f µs", oneTripName, o50.Median, o99.Median)
			}
			if x50, x99 := part.p.ProxyAddedP50, part.p.ProxyAddedP99; x50 != nil && x99 != nil {
				floor := cdf(proxyName, part.p.samples[proxyName])
				floor.dashed = true
				c.series = append(c.series, floor)
				c.note += fmt.Sprintf("; the floor (%s) %.0f / %.0f µs", proxyName, x50.Median, x99.Median)
			}
			add(part.file, c)
		}
	}
	if id := r.Scenarios.Idle; id != nil {
		c := chart{title: fmt.Sprintf("Process RSS with idle attached streams (relays' upstream %s)", id.UpstreamHTTP), xlabel: "idle streams", ylabel: "RSS (MB), whole process",
			note: fmt.Sprintf("Armistice adds %.1f KB per stream over direct; engine share (Armistice − baseline) %.1f KB", id.KBPerStream.Median, id.EngineKBPerStream.Median)}
		for _, n := range append(names, queuedName, proxyName) {
			s := series{name: n, marks: true, dashed: n == queuedName || n == proxyName}
			is, ok := id.Systems[n]
			if !ok {
				continue
			}
			for _, p := range is.Points {
				s.xs = append(s.xs, float64(p.Streams))
				s.ys = append(s.ys, p.RSSMB-is.Points[0].RSSMB)
			}
			c.series = append(c.series, s)
		}
		c.ylabel = "RSS growth (MB), whole process"
		add("idle-rss.svg", c)
	}
	if ch := r.Scenarios.Churn; ch != nil {
		heap := chart{title: fmt.Sprintf("Live heap after each churn cycle (%d streams per cycle)", ch.StreamsPerCycle), xlabel: "cycle", ylabel: "heap after GC (MB)"}
		gor := chart{title: "Goroutines after each churn cycle", xlabel: "cycle", ylabel: "goroutines"}
		for _, n := range []string{"baseline", "armistice"} {
			cs, ok := ch.Systems[n]
			if !ok {
				continue
			}
			// Dashed, so that equal counts show both lines.
			hs, gs := series{name: n, marks: true}, series{name: n, marks: true, dashed: n == "armistice"}
			hs.xs, hs.ys = append(hs.xs, 0), append(hs.ys, cs.HeapBeforeMB)
			gs.xs, gs.ys = append(gs.xs, 0), append(gs.ys, float64(cs.GoroutinesBefore))
			for _, cy := range cs.Cycles {
				hs.xs, hs.ys = append(hs.xs, float64(cy.Cycle)), append(hs.ys, cy.HeapMB)
				gs.xs, gs.ys = append(gs.xs, float64(cy.Cycle)), append(gs.ys, float64(cy.Goroutines))
			}
			heap.series = append(heap.series, hs)
			gor.series = append(gor.series, gs)
		}
		if a, ok := ch.Systems["armistice"]; ok {
			heap.note = fmt.Sprintf("cycle 0 is before the first cycle; Armistice heap ratio last/first %.2f", a.HeapRatio)
			gor.note = fmt.Sprintf("cycle 0 is before the first cycle; Armistice delta after the last cycle %d", a.GoroutineDelta)
		}
		add("churn-heap.svg", heap)
		add("churn-goroutines.svg", gor)
	}
	if cc := r.Scenarios.Concurrent; cc != nil {
		c := chart{title: fmt.Sprintf("Token latency p99 against concurrent streams (%g tokens/s each)", cc.Main.Rate),
			xlabel: "concurrent streams (log scale)", ylabel: "p99 token latency (ms, log scale)", logX: true, logY: true,
			note: "ladder rounds, then the main run; latency from the token's due time to the client reading it"}
		for _, n := range names {
			s := series{name: n, marks: true}
			add := func(streams int, p99 float64) {
				s.xs = append(s.xs, float64(streams))
				s.ys = append(s.ys, math.Log10(max(p99, 0.01)))
			}
			for _, st := range cc.Ladder {
				add(st.Streams, st.Systems[n].P99Ms)
			}
			if cs, ok := cc.Main.Systems[n]; ok {
				add(cc.Main.Streams, cs.LatencyP99Ms.Median)
			}
			c.series = append(c.series, s)
		}
		add("concurrent-p99.svg", c)
	}
	var files []string
	for _, c := range charts {
		if err := os.WriteFile(filepath.Join(dir, c.file), []byte(c.c.render()), 0o644); err != nil {
			return files, err
		}
		files = append(files, c.file)
	}
	return files, nil
}
