// Command ttftroutes measures the time to the first token of three ways
// to ask one running Armistice server for an answer, interleaved request
// by request on one keep-alive client: the native API in two round trips
// (POST /v1/requests, then GET /v1/requests/{id}/events), the native API
// in one (POST /v1/requests with Accept: text/event-stream), and
// POST /v1/chat/completions with stream: true. Run it through
// scripts/ttft-routes.sh, which starts the server on the embedded model,
// unpaced, so that the first token is ready as soon as the request runs
// and the figures are the routes' own.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:18779", "the server")
	n := flag.Int("n", 2000, "requests per route, after 200 of warm-up")
	flag.Parse()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	routes := []struct {
		name string
		run  func() (time.Duration, error)
	}{
		{"native, two round trips", func() (time.Duration, error) { return native(c, *base, false) }},
		{"native, Accept: text/event-stream", func() (time.Duration, error) { return native(c, *base, true) }},
		{"chat completions, stream", func() (time.Duration, error) { return chat(c, *base) }},
	}
	got := make([][]float64, len(routes))
	for i := range *n + 200 {
		for j := range routes {
			k := (i + j) % len(routes)
			d, err := routes[k].run()
			if err != nil {
				fmt.Fprintln(os.Stderr, "ttftroutes:", routes[k].name+":", err)
				os.Exit(1)
			}
			if i >= 200 {
				got[k] = append(got[k], float64(d.Microseconds()))
			}
		}
	}
	for k, r := range routes {
		v := got[k]
		slices.Sort(v)
		fmt.Printf("%-36s p50 %6.0f µs  p99 %6.0f µs  (%d requests)\n", r.name, v[len(v)/2], v[len(v)*99/100], len(v))
	}
}

// native submits a prompt and reads its event stream to the first token:
// from the submit's answer when oneTrip, else from GET .../events.
func native(c *http.Client, base string, oneTrip bool) (time.Duration, error) {
	start := time.Now()
	req, _ := http.NewRequest("POST", base+"/v1/requests", strings.NewReader(`{"prompt":"p","max_tokens":5}`))
	req.Header.Set("Content-Type", "application/json")
	if oneTrip {
		req.Header.Set("Accept", "text/event-stream")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	if !oneTrip {
		loc := resp.Header.Get("Location")
		drain(resp.Body)
		if resp.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("submit: %s", resp.Status)
		}
		req, _ = http.NewRequest("GET", base+loc+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		if resp, err = c.Do(req); err != nil {
			return 0, err
		}
	}
	return untilLine(start, resp, "event: token")
}

func chat(c *http.Client, base string) (time.Duration, error) {
	start := time.Now()
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions",
		strings.NewReader(`{"model":"embedded","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"p"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	return untilLine(start, resp, `"content":"`)
}

// untilLine reads resp's body to the first line holding marker, then
// drains the rest; the time is to that line.
func untilLine(start time.Time, resp *http.Response, marker string) (time.Duration, error) {
	defer drain(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), marker) {
			return time.Since(start), nil
		}
	}
	return 0, fmt.Errorf("no first token in the answer")
}

func drain(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, r)
	_ = r.Close()
}
