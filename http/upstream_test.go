package http

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/openai"
	"github.com/armistice-go/armistice/llm/resilient"
	"github.com/rs/zerolog"
)

const testAPIKey = "sk-test-do-not-log-4f9a"

// now fires at once: retries in these tests wait for nothing, and the
// test still sees that a wait was asked for.
func now(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

// realUpstream is the provider path of a real deployment: the openai (or
// anthropic) provider behind llm/resilient, talking to a fake upstream
// that speaks the wire format byte for byte.
func realUpstream(t *testing.T, format llmtest.Format, metrics *Metrics, scripts ...llmtest.Script) (*llmtest.Server, llm.Provider) {
	t.Helper()
	up := llmtest.New(t, format, scripts...)
	var p llm.Provider
	var err error
	if format == llmtest.OpenAI {
		p, err = openai.New(openai.Config{BaseURL: up.URL, APIKey: testAPIKey, Model: "test-model"})
	} else {
		p, err = anthropic.New(anthropic.Config{BaseURL: up.URL, APIKey: testAPIKey, Model: "test-model"})
	}
	if err != nil {
		t.Fatal(err)
	}
	var obs resilient.Observer = resilient.NopObserver{}
	if metrics != nil {
		obs = metrics
	}
	r, err := resilient.New(resilient.Config{Upstreams: []resilient.Upstream{{Name: format.String(), Provider: p}}, After: now, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	return up, r
}

func TestUpstreamOutcomesOverHTTP(t *testing.T) {
	ok := llmtest.Answer("Hello", " world")
	for _, tc := range []struct {
		name     string
		format   llmtest.Format
		scripts  []llmtest.Script
		status   string
		reason   string
		text     string
		requests int
	}{
		{"openai completes", llmtest.OpenAI, []llmtest.Script{ok}, "completed", "stop", "Hello world", 1},
		{"anthropic completes", llmtest.Anthropic, []llmtest.Script{ok}, "completed", "stop", "Hello world", 1},
		{"length", llmtest.OpenAI, []llmtest.Script{llmtest.Finished(llm.FinishLength, "cut", " short")}, "completed", "length", "cut short", 1},
		{"content filter", llmtest.Anthropic, []llmtest.Script{llmtest.Finished(llm.FinishContentFilter, "no")}, "completed", "content_filter", "no", 1},
		{"429 then success", llmtest.OpenAI, []llmtest.Script{llmtest.Status(429, "1"), ok}, "completed", "stop", "Hello world", 2},
		{"500 then success", llmtest.Anthropic, []llmtest.Script{llmtest.Status(500, ""), ok}, "completed", "stop", "Hello world", 2},
		{"retries exhausted", llmtest.OpenAI, []llmtest.Script{llmtest.Status(503, "")}, "failed", "upstream_error", "", 3},
		{"400 is not retried", llmtest.OpenAI, []llmtest.Script{llmtest.Status(400, "")}, "failed", "upstream_error", "", 1},
		{"cut mid-answer", llmtest.OpenAI, []llmtest.Script{llmtest.CutAfter("half", " an")}, "failed", "upstream_error", "half an", 1},
		{"clean end without finish", llmtest.Anthropic, []llmtest.Script{llmtest.EndAfter("half")}, "failed", "upstream_error", "half", 1},
		{"error object mid-stream", llmtest.OpenAI, []llmtest.Script{llmtest.ErrorAfter("overloaded", "some")}, "failed", "upstream_error", "some", 1},
		{"anthropic error event", llmtest.Anthropic, []llmtest.Script{llmtest.ErrorAfter("overloaded", "some")}, "failed", "upstream_error", "some", 1},
		{"malformed chunk", llmtest.OpenAI, []llmtest.Script{llmtest.MalformedAfter("some")}, "failed", "upstream_error", "some", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, p := realUpstream(t, tc.format, nil, tc.scripts...)
			e := newEnv(t, withProvider(p))
			snap := e.submit(`{"prompt":"hi"}`)
			evs := e.mustOpen(snap.ID, "").readToEnd()
			checkSeqs(t, evs, 1)
			if got := joinText(evs); got != tc.text {
				t.Fatalf("text = %q, want %q (the text before a failure is kept)", got, tc.text)
			}
			end := endOf(t, evs)
			if end["status"] != tc.status || end["reason"] != tc.reason {
				t.Fatalf("end = %v, want %s/%s", end, tc.status, tc.reason)
			}
			if tc.status == "failed" && end["message"] == "" {
				t.Fatalf("a failure without a message: %v", end)
			}
			if got := up.Count(); got != tc.requests {
				t.Fatalf("upstream saw %d requests, want %d", got, tc.requests)
			}
			if auth := up.Requests()[0].Header.Get("Authorization"); !strings.Contains(auth, testAPIKey) && up.Requests()[0].Header.Get("X-Api-Key") != testAPIKey {
				t.Fatalf("the API key did not reach the upstream")
			}
		})
	}
}

func TestUpstreamConnectionRefused(t *testing.T) {
	url, err := llmtest.ClosedURL()
	if err != nil {
		t.Fatal(err)
	}
	p, err := openai.New(openai.Config{BaseURL: url + "/v1", APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	r, err := resilient.New(resilient.Config{Upstreams: []resilient.Upstream{{Provider: p}}, After: now})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withProvider(r))
	snap := e.submit(`{"prompt":"hi"}`)
	wantEnd(t, e.mustOpen(snap.ID, "").readToEnd(), "done", "failed", "upstream_error")
}

// waitDisconnect returns when the upstream saw its client go away.
func waitDisconnect(t *testing.T, up *llmtest.Server) llmtest.Disconnect {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	d, err := up.WaitDisconnect(ctx)
	if err != nil {
		t.Fatal("the upstream call was not aborted:", err)
	}
	return d
}

// The core's timeouts and a cancel all abort the upstream HTTP request.
func TestTimeoutsAndCancelAbortTheUpstream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script llmtest.Script
		cancel bool
		state  string
		status string
		reason string
	}{
		{"stall before the first token", llmtest.Script{StallHeaders: true}, false, "done", "failed", "first_token_timeout"},
		{"stall between tokens", llmtest.StallAfter([]string{"a"}), false, "done", "failed", "idle_timeout"},
		{"cancel mid-stream", llmtest.StallAfter([]string{"a"}), true, "cancelled", "cancelled", "client_cancel"},
		{"cancel before the first token", llmtest.Script{StallHeaders: true}, true, "cancelled", "cancelled", "client_cancel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, p := realUpstream(t, llmtest.OpenAI, nil, tc.script)
			e := newEnv(t, withProvider(p), withEngine(func(c *actors.Config) {
				c.FirstTokenTimeout, c.IdleTimeout = 200*time.Millisecond, 200*time.Millisecond
				if tc.cancel {
					c.FirstTokenTimeout, c.IdleTimeout = time.Minute, time.Minute
				}
			}))
			snap := e.submit(`{"prompt":"hi"}`)
			st := e.mustOpen(snap.ID, "")
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if _, err := up.WaitStalled(ctx); err != nil {
				t.Fatal(err)
			}
			var sent time.Time
			if tc.cancel {
				sent = time.Now()
				if resp, data := e.do("POST", "/v1/requests/"+snap.ID+"/cancel", ""); resp.StatusCode != 200 {
					t.Fatalf("cancel: %d %s", resp.StatusCode, data)
				}
			}
			d := waitDisconnect(t, up)
			if tc.cancel {
				t.Logf("cancel to upstream abort: %s", d.At.Sub(sent))
			}
			evs := st.readToEnd()
			wantEnd(t, evs, tc.state, tc.status, tc.reason)
		})
	}
}

func TestUpstreamMetricsAndNoSecretsInLogs(t *testing.T) {
	var logs syncBuffer
	metrics := NewMetrics()
	up, p := realUpstream(t, llmtest.OpenAI, metrics, llmtest.Status(500, ""), llmtest.Answer("ok"), llmtest.Status(503, ""))
	e := newEnv(t, withProvider(p), withEngine(func(c *actors.Config) {
		c.Logger = zerolog.New(&logs)
		c.Observer = metrics
	}), withServer(func(c *Config) {
		c.Logger = zerolog.New(&logs)
		c.Metrics = metrics
	}))
	first := e.submit(`{"prompt":"hi"}`)
	wantEnd(t, e.mustOpen(first.ID, "").readToEnd(), "done", "completed", "stop")
	second := e.submit(`{"prompt":"hi"}`)
	wantEnd(t, e.mustOpen(second.ID, "").readToEnd(), "done", "failed", "upstream_error")
	_ = up
	_, data := e.do("GET", "/metrics", "")
	for _, want := range []string{
		`armistice_upstream_attempts_total{upstream="openai"} 5`,
		`armistice_upstream_retries_total{kind="status_5xx",upstream="openai"} 3`,
		`armistice_upstream_errors_total{kind="status_5xx",upstream="openai"} 4`,
		`armistice_requests_finished_total{reason="upstream_error",status="failed"} 1`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	_, snapData := e.do("GET", "/v1/requests/"+second.ID, "")
	var snap map[string]any
	json.Unmarshal(snapData, &snap)
	for name, text := range map[string]string{"logs": logs.String(), "snapshot": string(snapData), "metrics": string(data)} {
		if strings.Contains(text, testAPIKey) {
			t.Errorf("the API key reached the %s", name)
		}
	}
	if !strings.Contains(logs.String(), "upstream_error") {
		t.Fatalf("the failure was not logged: %s", logs.String())
	}
}
