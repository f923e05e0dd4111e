package resilient_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/resilient"
)

// TestUpstreamStatusTable runs every upstream error status through the
// OpenAI provider behind a resilient provider with the default retries
// and one fallback failing the same way. It checks the error the client
// gets (the last attempt's *llm.StatusError, fields as the upstream wrote
// them) and how many calls each upstream received: a 4xx other than 408
// and 429 is tried once and never on the fallback; 408, 429 and 5xx get
// 1+Retries attempts on each upstream.
func TestUpstreamStatusTable(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		typ, code  string
		param      string
		calls      int // on each upstream that is tried
		fallback   bool
		waits      []time.Duration
	}{
		{status: 400, typ: "invalid_request_error", code: "context_length_exceeded", param: "messages", calls: 1},
		{status: 401, typ: "invalid_request_error", code: "invalid_api_key", calls: 1},
		{status: 403, typ: "invalid_request_error", code: "unsupported_country_region_territory", calls: 1},
		{status: 404, typ: "invalid_request_error", code: "model_not_found", param: "model", calls: 1},
		{status: 408, typ: "timeout", calls: 3, fallback: true, waits: backoffs(2)},
		{status: 409, typ: "invalid_request_error", code: "conflict", calls: 1},
		{status: 413, typ: "invalid_request_error", code: "request_too_large", calls: 1},
		{status: 422, typ: "invalid_request_error", code: "invalid_value", param: "tools[0].function.parameters", calls: 1},
		{status: 429, typ: "requests", code: "rate_limit_exceeded", calls: 3, fallback: true, waits: backoffs(2)},
		{status: 429, retryAfter: "2", typ: "requests", code: "rate_limit_exceeded", calls: 3, fallback: true,
			waits: []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}},
		{status: 500, typ: "server_error", calls: 3, fallback: true, waits: backoffs(2)},
		{status: 502, typ: "server_error", calls: 3, fallback: true, waits: backoffs(2)},
		{status: 503, typ: "server_error", code: "overloaded", calls: 3, fallback: true, waits: backoffs(2)},
	} {
		t.Run(fmt.Sprintf("%d%s", tc.status, map[bool]string{true: " with Retry-After"}[tc.retryAfter != ""]), func(t *testing.T) {
			message := fmt.Sprintf("upstream says %d (key %s)", tc.status, providertest.Secret)
			script := llmtest.StatusBody(tc.status, tc.retryAfter, tc.typ, tc.code, tc.param, message)
			c := &clock{}
			primary, ps := upstream(t, llmtest.OpenAI, "primary", script)
			fallback, fs := upstream(t, llmtest.OpenAI, "fallback", script)
			p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{primary, fallback}, After: c.After, Rand: half})
			st, err := p.Stream(t.Context(), providertest.Prompt())
			if st != nil {
				t.Fatal("a stream opened")
			}
			var se *llm.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("Stream = %v, want an *llm.StatusError", err)
			}
			want := llm.StatusError{StatusCode: tc.status, Type: tc.typ, Code: tc.code, Param: tc.param,
				Message: fmt.Sprintf("upstream says %d (key [redacted])", tc.status)}
			if tc.retryAfter != "" {
				want.RetryAfter = 2 * time.Second
			}
			if *se != want {
				t.Fatalf("StatusError\n%+v, want\n%+v", *se, want)
			}
			providertest.NoSecret(t, err)
			if errors.Is(err, resilient.ErrExhausted) != tc.fallback {
				t.Fatalf("Stream = %v: exhausted %v, want %v", err, errors.Is(err, resilient.ErrExhausted), tc.fallback)
			}
			wantFallback := 0
			if tc.fallback {
				wantFallback = tc.calls
			}
			if ps.Count() != tc.calls || fs.Count() != wantFallback {
				t.Fatalf("calls: primary %d, fallback %d; want %d, %d", ps.Count(), fs.Count(), tc.calls, wantFallback)
			}
			if fmt.Sprint(c.Waits()) != fmt.Sprint(tc.waits) {
				t.Fatalf("waits %v, want %v", c.Waits(), tc.waits)
			}
		})
	}
}

// backoffs are the waits of the default backoff with Rand half, for n
// retries on each of two upstreams.
func backoffs(n int) []time.Duration {
	var w []time.Duration
	for range 2 {
		d := 150 * time.Millisecond
		for range n {
			w = append(w, d)
			d *= 2
		}
	}
	return w
}

// TestUpstreamCallCount counts the upstream calls one client attempt
// causes: with U upstreams and Config.Retries R, an upstream answering 429
// forever gets (1+R) calls on each, (1+R)·U in all, and the client gets
// the last 429 with its Retry-After; an upstream answering 400 gets one
// call and no other upstream is tried.
func TestUpstreamCallCount(t *testing.T) {
	for _, tc := range []struct {
		retries, upstreams int
		status             int
		want               int
	}{
		{retries: -1, upstreams: 1, status: 429, want: 1},
		{retries: 0, upstreams: 1, status: 429, want: 3}, // Retries 0 is the default, 2
		{retries: 1, upstreams: 1, status: 429, want: 2},
		{retries: 2, upstreams: 2, status: 429, want: 6},
		{retries: 5, upstreams: 3, status: 429, want: 18},
		{retries: 2, upstreams: 1, status: 400, want: 1},
		{retries: 5, upstreams: 3, status: 400, want: 1},
	} {
		t.Run(fmt.Sprintf("%d retries %d upstreams status %d", tc.retries, tc.upstreams, tc.status), func(t *testing.T) {
			var ups []resilient.Upstream
			var servers []*llmtest.Server
			for i := range tc.upstreams {
				up, s := upstream(t, llmtest.OpenAI, fmt.Sprint("up", i), llmtest.Status(tc.status, "1"))
				ups, servers = append(ups, up), append(servers, s)
			}
			c := &clock{}
			p := newResilient(t, resilient.Config{Upstreams: ups, Retries: tc.retries, After: c.After})
			_, err := p.Stream(t.Context(), providertest.Prompt())
			var se *llm.StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.status || se.RetryAfter != time.Second {
				t.Fatalf("Stream = %v, want the upstream's %d with its Retry-After", err, tc.status)
			}
			calls := 0
			for _, s := range servers {
				calls += s.Count()
			}
			if calls != tc.want {
				t.Fatalf("%d upstream calls, want %d", calls, tc.want)
			}
			if tc.status == http.StatusBadRequest && len(c.Waits()) != 0 {
				t.Fatalf("waited %v before refusing", c.Waits())
			}
		})
	}
}
