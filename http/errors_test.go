package http

import (
	"encoding/json"
	stdhttp "net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

func TestSubmitRejectsBadInput(t *testing.T) {
	e := newEnv(t, withServer(func(c *Config) { c.MaxPromptBytes = 16; c.MaxBodyBytes = 1024 }))
	long := strings.Repeat("x", 2000)
	for _, tc := range []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
	}{
		{"not JSON", `{"prompt":`, "application/json", 400, CodeInvalidRequest},
		{"not an object", `["hi"]`, "application/json", 400, CodeInvalidRequest},
		{"missing prompt", `{"model":"m"}`, "application/json", 400, CodeInvalidRequest},
		{"empty prompt", `{"prompt":"  "}`, "application/json", 400, CodeInvalidRequest},
		{"prompt not a string", `{"prompt":3}`, "application/json", 400, CodeInvalidRequest},
		{"unknown field", `{"prompt":"hi","temprature":1}`, "application/json", 400, CodeInvalidRequest},
		{"zero max_tokens", `{"prompt":"hi","max_tokens":0}`, "application/json", 400, CodeInvalidRequest},
		{"negative max_tokens", `{"prompt":"hi","max_tokens":-1}`, "application/json", 400, CodeInvalidRequest},
		{"fractional max_tokens", `{"prompt":"hi","max_tokens":1.5}`, "application/json", 400, CodeInvalidRequest},
		{"bad on_disconnect", `{"prompt":"hi","on_disconnect":"explode"}`, "application/json", 400, CodeInvalidRequest},
		{"empty on_disconnect", `{"prompt":"hi","on_disconnect":""}`, "application/json", 400, CodeInvalidRequest},
		{"metadata not strings", `{"prompt":"hi","metadata":{"a":1}}`, "application/json", 400, CodeInvalidRequest},
		{"two JSON values", `{"prompt":"hi"}{"prompt":"again"}`, "application/json", 400, CodeInvalidRequest},
		{"trailing garbage", `{"prompt":"hi"} x`, "application/json", 400, CodeInvalidRequest},
		{"prompt too long", `{"prompt":"12345678901234567"}`, "application/json", 413, CodePayloadTooLarge},
		{"body too large", `{"prompt":"hi","model":"` + long + `"}`, "application/json", 413, CodePayloadTooLarge},
		{"text/plain", `{"prompt":"hi"}`, "text/plain", 415, CodeUnsupportedMediaType},
		{"no content type", `{"prompt":"hi"}`, "", 415, CodeUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := e.do("POST", "/v1/requests", tc.body, "Content-Type", tc.contentType)
			wantError(t, resp, data, tc.status, tc.code)
		})
	}
	if opened := e.prov.Opened(); opened != 0 {
		t.Fatalf("%d requests were created from bad input", opened)
	}
	// A body without Content-Length (chunked) is capped too.
	req, _ := stdhttp.NewRequest("POST", e.url+"/v1/requests", struct{ *strings.Reader }{strings.NewReader(`{"prompt":"hi","model":"` + long + `"}`)})
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body errorBody
	if json.NewDecoder(resp.Body).Decode(&body); resp.StatusCode != 413 || body.Error.Code != CodePayloadTooLarge {
		t.Fatalf("chunked oversized body: %d %+v", resp.StatusCode, body)
	}
}

func TestSubmitAcceptsEveryField(t *testing.T) {
	e := newEnv(t)
	snap := e.submit(`{"prompt":"hi","model":"m1","max_tokens":7,"on_disconnect":"cancel","metadata":{"k":"v"}}`)
	s := e.script()
	if r := s.Request(); r.Model != "m1" || r.MaxTokens != 7 {
		t.Fatalf("provider got %+v", r)
	}
	if snap.Model != "m1" || snap.OnDisconnect != "cancel" || snap.Metadata["k"] != "v" || snap.State.String() != "pending" {
		t.Fatalf("snapshot = %+v", snap)
	}
	// Status and reason only appear once the request is terminal.
	_, data := e.do("GET", "/v1/requests/"+snap.ID, "")
	if strings.Contains(string(data), `"status"`) || strings.Contains(string(data), `"reason"`) {
		t.Fatalf("running snapshot shows a status: %s", data)
	}
	var raw map[string]any
	json.Unmarshal(data, &raw)
	if ts, _ := raw["created_at"].(string); !strings.Contains(ts, ".") || !strings.HasSuffix(ts, "Z") {
		t.Fatalf("created_at %q is not RFC 3339 with fractions", ts)
	}
	s.Finish(llm.FinishStop, nil)
}

func TestQueueFullAnswers429WithRetryAfter(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.MaxActive = 1; c.MaxQueued = 1 }))
	e.submit(`{"prompt":"runs"}`)
	e.script()
	e.submit(`{"prompt":"waits"}`)
	resp, data := e.do("POST", "/v1/requests", `{"prompt":"refused"}`)
	wantError(t, resp, data, 429, CodeQueueFull)
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Fatalf("Retry-After = %q", resp.Header.Get("Retry-After"))
	}
}

func TestTooManySubscribers(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.MaxSubscribers = 1 }))
	snap := e.submit(`{"prompt":"hi"}`)
	e.mustOpen(snap.ID, "").readN(1)
	_, resp, data := e.open(snap.ID, "")
	wantError(t, resp, data, 429, CodeTooManySubscribers)
}

func TestNotFoundLooksTheSameForEveryCause(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.Linger = 0 }))
	expired := e.submit(`{"prompt":"hi"}`)
	s := e.script()
	s.Finish(llm.FinishStop, nil)
	e.mustOpen(expired.ID, "").readToEnd()
	e.waitRemoved(1)
	ids := map[string]string{
		"unknown":   "9b2f0c1e-0000-4000-8000-000000000000",
		"expired":   expired.ID,
		"malformed": strings.Repeat("z", 300),
		"odd":       "%20",
	}
	for name, id := range ids {
		for _, probe := range []struct{ method, suffix string }{{"GET", ""}, {"GET", "/events"}, {"POST", "/cancel"}} {
			resp, data := e.do(probe.method, "/v1/requests/"+id+probe.suffix, "")
			body := wantError(t, resp, data, 404, CodeNotFound)
			if body.Error.Message != "no such request" {
				t.Errorf("%s %s: message %q tells causes apart", name, probe.suffix, body.Error.Message)
			}
		}
	}
}

func TestCancelIsIdempotentAndKnowsFinishedRequests(t *testing.T) {
	e := newEnv(t)
	running := e.submit(`{"prompt":"hi"}`)
	e.script()
	for range 2 {
		resp, data := e.do("POST", "/v1/requests/"+running.ID+"/cancel", "")
		var snap SnapshotJSON
		json.Unmarshal(data, &snap)
		if resp.StatusCode != 200 || snap.State.String() != "cancelled" || snap.Status.String() != "cancelled" || snap.Reason.String() != "client_cancel" {
			t.Fatalf("cancel: %d %s", resp.StatusCode, data)
		}
	}
	done := e.submit(`{"prompt":"hi"}`)
	s := e.script()
	s.Finish(llm.FinishStop, nil)
	e.mustOpen(done.ID, "").readToEnd()
	resp, data := e.do("POST", "/v1/requests/"+done.ID+"/cancel", "")
	body := wantError(t, resp, data, 409, CodeAlreadyFinished)
	if body.Snapshot == nil || body.Snapshot.Status.String() != "completed" || body.Snapshot.ID != done.ID {
		t.Fatalf("409 body snapshot = %+v", body.Snapshot)
	}
}

func TestInvalidCursors(t *testing.T) {
	e := newEnv(t)
	snap := e.submit(`{"prompt":"hi"}`)
	for _, tc := range []struct {
		query   string
		headers []string
	}{
		{"after=abc", nil},
		{"after=-1", nil},
		{"after=1.5", nil},
		{"after=", nil},
		{"after=99999999999999999999999", nil},
		{"after=50", nil},
		{"", []string{"Last-Event-ID", "x"}},
		{"", []string{"Last-Event-ID", "-3"}},
		{"", []string{"Last-Event-ID", "7"}},
	} {
		_, resp, data := e.open(snap.ID, tc.query, tc.headers...)
		wantError(t, resp, data, 400, CodeInvalidCursor)
	}
}

func TestRoutesAndMethods(t *testing.T) {
	e := newEnv(t)
	e.srv.Echo().GET("/v1/boom", func(echo.Context) error { panic("boom") })
	resp, data := e.do("DELETE", "/v1/requests", "")
	wantError(t, resp, data, 405, CodeMethodNotAllowed)
	resp, data = e.do("GET", "/v2/nothing", "")
	wantError(t, resp, data, 404, CodeNotFound)
	resp, data = e.do("GET", "/v1/boom", "")
	wantError(t, resp, data, 500, CodeInternal)
	resp, data = e.do("GET", "/healthz", "")
	if resp.StatusCode != 200 || !strings.Contains(string(data), "ok") {
		t.Fatalf("healthz: %d %s", resp.StatusCode, data)
	}
	resp, _ = e.do("GET", "/readyz", "")
	if resp.StatusCode != 200 {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Fatal("no request id header")
	}
}

func TestClosedEngineAnswers503(t *testing.T) {
	e := newEnv(t)
	e.eng.Close()
	resp, data := e.do("POST", "/v1/requests", `{"prompt":"hi"}`)
	wantError(t, resp, data, 503, CodeShuttingDown)
}

func TestAuthAndTenantIsolation(t *testing.T) {
	e := newEnv(t, withServer(func(c *Config) { c.APIKeys = map[string]string{"key-a": "alice", "key-b": "bob"} }))
	for _, header := range []string{"", "Bearer", "Bearer nope", "Basic a2V5LWE=", "key-a"} {
		resp, data := e.do("POST", "/v1/requests", `{"prompt":"hi"}`, "Authorization", header)
		wantError(t, resp, data, 401, CodeUnauthorized)
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 without WWW-Authenticate")
		}
	}
	e.key = "key-a"
	mine := e.submit(`{"prompt":"alice's"}`)
	e.script()
	if code, _ := e.status(mine.ID); code != 200 {
		t.Fatalf("owner status: %d", code)
	}
	e.key = "key-b"
	for _, probe := range []struct{ method, suffix string }{{"GET", ""}, {"GET", "/events"}, {"POST", "/cancel"}} {
		resp, data := e.do(probe.method, "/v1/requests/"+mine.ID+probe.suffix, "")
		wantError(t, resp, data, 404, CodeNotFound)
	}
	e.key = ""
	resp, _ := e.do("GET", "/healthz", "")
	if resp.StatusCode != 200 {
		t.Fatalf("healthz needs no key: %d", resp.StatusCode)
	}
	e.key = "key-a"
	if code, snap := e.status(mine.ID); code != 200 || snap.State.String() != "streaming" {
		t.Fatalf("bob's probes touched alice's request: %d %+v", code, snap)
	}
}

func TestMetricsCountRequests(t *testing.T) {
	e := newEnv(t)
	streamDone := make(chan struct{}, 1)
	e.srv.streamDone = func() { streamDone <- struct{}{} }
	snap := e.submit(`{"prompt":"hi"}`)
	s := e.script()
	s.Token("a")
	s.Finish(llm.FinishStop, &llm.Usage{PromptTokens: 4, CompletionTokens: 1})
	e.mustOpen(snap.ID, "").readToEnd()
	<-streamDone // the handler has returned, so the stream gauge is down
	_, data := e.do("GET", "/metrics", "")
	text := string(data)
	for _, want := range []string{
		`armistice_requests_finished_total{reason="stop",status="completed"} 1`,
		`armistice_requests_in_state{state="done"} 1`,
		`armistice_requests_in_state{state="streaming"} 0`,
		`armistice_time_to_first_token_seconds_count 1`,
		`armistice_request_duration_seconds_count{status="completed"} 1`,
		`armistice_tokens_total 1`,
		`armistice_usage_tokens_total{kind="prompt"} 4`,
		`armistice_queue_depth 0`,
		`armistice_subscribers `,
		`armistice_event_streams 0`,
		`armistice_mailbox_runs_total{on="worker"} `,
		`armistice_mailbox_runs_total{on="goroutine"} `,
		`armistice_http_requests_total{code="202",method="POST",route="/v1/requests"} 1`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, "armistice_mailbox_runs_total{on=\"worker\"} 0\n") {
		t.Error("the request's mailbox runs were not counted on the workers")
	}
}

// syncBuffer is an io.Writer for a logger written by several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAccessLogOneLinePerRequestNoSecrets(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, withServer(func(c *Config) {
		c.Logger = zerolog.New(&logs)
		c.APIKeys = map[string]string{"sekrit-key": "alice"}
	}))
	e.key = "sekrit-key"
	e.do("GET", "/v1/requests/nope", "")
	e.do("GET", "/healthz", "")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got %q", lines)
	}
	var first, second map[string]any
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[1]), &second)
	if first["level"] != "warn" || first["status"] != 404.0 || first["tenant"] != "alice" || first["req_id"] == "" {
		t.Fatalf("404 line = %v", first)
	}
	if second["level"] != "debug" || second["status"] != 200.0 {
		t.Fatalf("a probe's line = %v; want it at debug", second)
	}
	if strings.Contains(logs.String(), "sekrit") {
		t.Fatal("the API key reached the log")
	}
}
