package resilient_test

// The failure handling against the loopback fake servers, for both SDK
// providers.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/openai"
	"github.com/armistice-go/armistice/llm/resilient"
)

var formats = []llmtest.Format{llmtest.OpenAI, llmtest.Anthropic}

// sdkProvider returns the SDK provider for format, talking to baseURL with
// the suite's secret API key.
func sdkProvider(t testing.TB, format llmtest.Format, name, baseURL string) llm.Provider {
	t.Helper()
	var p llm.Provider
	var err error
	switch format {
	case llmtest.OpenAI:
		p, err = openai.New(openai.Config{Name: name, BaseURL: baseURL, APIKey: providertest.Secret, Model: "gpt-test"})
	default:
		p, err = anthropic.New(anthropic.Config{Name: name, BaseURL: baseURL, APIKey: providertest.Secret, Model: "claude-test"})
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// upstream starts a fake server of format and returns an Upstream on it.
func upstream(t *testing.T, format llmtest.Format, name string, scripts ...llmtest.Script) (resilient.Upstream, *llmtest.Server) {
	t.Helper()
	s := llmtest.New(t, format, scripts...)
	return resilient.Upstream{Name: name, Provider: sdkProvider(t, format, name, s.URL)}, s
}

// other returns the format that is not f.
func other(f llmtest.Format) llmtest.Format {
	if f == llmtest.OpenAI {
		return llmtest.Anthropic
	}
	return llmtest.OpenAI
}

func forEachFormat(t *testing.T, test func(t *testing.T, f llmtest.Format)) {
	for _, f := range formats {
		t.Run(f.String(), func(t *testing.T) { test(t, f) })
	}
}

func TestUpstreamRetries(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f llmtest.Format) {
		for _, tc := range []struct {
			name   string
			first  llmtest.Script
			waits  []time.Duration
			events []string
		}{
			{"429 with Retry-After seconds", llmtest.Status(429, "3"), []time.Duration{3 * time.Second},
				[]string{"attempt up 1", "error up status_429", "retry up status_429 3s", "attempt up 2"}},
			{"500", llmtest.Status(500, ""), []time.Duration{150 * time.Millisecond},
				[]string{"attempt up 1", "error up status_5xx", "retry up status_5xx 150ms", "attempt up 2"}},
			{"503 with Retry-After", llmtest.Status(503, "1"), []time.Duration{time.Second},
				[]string{"attempt up 1", "error up status_5xx", "retry up status_5xx 1s", "attempt up 2"}},
			{"hang up before answering", llmtest.Script{Hangup: true}, []time.Duration{150 * time.Millisecond},
				[]string{"attempt up 1", "error up connect", "retry up connect 150ms", "attempt up 2"}},
			{"cut before the first token", llmtest.CutAfter(), []time.Duration{150 * time.Millisecond},
				[]string{"attempt up 1", "error up stream_cut", "retry up stream_cut 150ms", "attempt up 2"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, r := &clock{}, &recorder{}
				up, s := upstream(t, f, "up", tc.first, llmtest.Answer("Hello", " world"))
				p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{up}, After: c.After, Observer: r, Rand: half})
				st, err := p.Stream(t.Context(), providertest.Prompt())
				if err != nil {
					t.Fatal(err)
				}
				res := providertest.Drain(t, st)
				if res.Err != nil || res.Text != "Hello world" || res.Finish != llm.FinishStop {
					t.Fatalf("got %+v", res)
				}
				if fmt.Sprint(c.Waits()) != fmt.Sprint(tc.waits) {
					t.Fatalf("waits %v, want %v", c.Waits(), tc.waits)
				}
				expectEvents(t, r, tc.events...)
				if s.Count() != 2 {
					t.Fatalf("%d requests, want 2", s.Count())
				}
			})
		}
	})
}

func TestUpstreamRetryAfterDate(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f llmtest.Format) {
		c := &clock{}
		at := time.Now().Add(10 * time.Second)
		up, _ := upstream(t, f, "up", llmtest.Status(429, llmtest.RetryAfterDate(at)), llmtest.Answer("a"))
		p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{up}, After: c.After})
		st, err := p.Stream(t.Context(), providertest.Prompt())
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		// HTTP dates have a resolution of one second.
		if w := c.Waits(); len(w) != 1 || w[0] <= 8*time.Second || w[0] > 10*time.Second {
			t.Fatalf("waits %v, want one of about 10s", w)
		}
	})
}

func TestUpstreamExhausted(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f llmtest.Format) {
		c, r := &clock{}, &recorder{}
		up, s := upstream(t, f, "up", llmtest.Status(500, ""))
		p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{up}, After: c.After, Observer: r, Rand: half})
		_, err := p.Stream(t.Context(), providertest.Prompt())
		if !errors.Is(err, resilient.ErrExhausted) || !errors.Is(err, llm.ErrUpstream) || resilient.Classify(err) != resilient.KindStatus5xx {
			t.Fatalf("Stream = %v (kind %s), want ErrExhausted of kind status_5xx", err, resilient.Classify(err))
		}
		if msg := err.Error(); !strings.Contains(msg, "retries exhausted") || !strings.Contains(msg, "after 3 attempts on up: ") || !strings.Contains(msg, "500") {
			t.Fatalf("message %q", msg)
		}
		if s.Count() != 3 {
			t.Fatalf("%d requests, want 3", s.Count())
		}
		if fmt.Sprint(c.Waits()) != "[150ms 300ms]" {
			t.Fatalf("waits %v", c.Waits())
		}
		expectEvents(t, r, "attempt up 1", "error up status_5xx", "retry up status_5xx 150ms",
			"attempt up 2", "error up status_5xx", "retry up status_5xx 300ms", "attempt up 3", "error up status_5xx")
	})
}

func TestUpstreamFallback(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f llmtest.Format) {
		c, r := &clock{}, &recorder{}
		primary, ps := upstream(t, f, "primary", llmtest.Status(503, ""))
		secondary, ss := upstream(t, other(f), "secondary", llmtest.Answer("from", " fallback"))
		p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{primary, secondary}, Retries: 1, After: c.After, Observer: r, Rand: half})
		st, err := p.Stream(t.Context(), providertest.Prompt())
		if err != nil {
			t.Fatal(err)
		}
		if res := providertest.Drain(t, st); res.Err != nil || res.Text != "from fallback" {
			t.Fatalf("got %+v", res)
		}
		if ps.Count() != 2 || ss.Count() != 1 {
			t.Fatalf("requests %d and %d, want 2 and 1", ps.Count(), ss.Count())
		}
		expectEvents(t, r, "attempt primary 1", "error primary status_5xx", "retry primary status_5xx 150ms",
			"attempt primary 2", "error primary status_5xx", "fallback primary status_5xx secondary", "attempt secondary 1")
	})
}

func TestUpstreamConnectionRefused(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f llmtest.Format) {
		refused, err := llmtest.ClosedURL()
		if err != nil {
			t.Fatal(err)
		}
		if f == llmtest.OpenAI {
			refused += "/v1"
		}
		c, r := &clock{}, &recorder{}
		dead := resilient.Upstream{Name: "dead", Provider: sdkProvider(t, f, "dead", refused)}
		alive, s := upstream(t, f, "alive", llmtest.Answer("ok"))
		p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{dead, alive}, Retries: 1, After: c.After, Observer: r, Rand: half})
		st, err := p.Stream(t.Context(), providertest.Prompt())
		if err != nil {
			t.Fatal(err)
		}
		if res := providertest.Drain(t, st); res.Text != "ok" || s.Count() != 1 {
			t.Fatalf("got %+v after %d requests", res, s.Count())
		}
		expectEvents(t, r, "attempt dead 1", "error dead connect", "retry dead connect 150ms",
			"attempt dead 2", "error dead connect", "fallback dead connect alive", "attempt alive 1")

		// Alone, it is exhausted with kind connect.
		p = newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{dead}, After: c.After})
		if _, err := p.Stream(t.Context(), providertest.Prompt()); !errors.Is(err, resilient.ErrExhausted) || resilient.Classify(err) != resilient.KindConnect {
			t.Fatalf("Stream = %v, want ErrExhausted of kind connect", err)
		}
	})
}

func TestUpstream4xxNotRetried(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f llmtest.Format) {
		for _, code := range []int{400, 401, 403, 404, 422} {
			c, r := &clock{}, &recorder{}
			up, s := upstream(t, f, "up", llmtest.Status(code, "1"), llmtest.Answer("never"))
			fb, fs := upstream(t, f, "fb", llmtest.Answer("never"))
			p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{up, fb}, After: c.After, Observer: r})
			_, err := p.Stream(t.Context(), providertest.Prompt())
			var se *llm.StatusError
			if !errors.As(err, &se) || se.StatusCode != code || resilient.Classify(err) != resilient.KindStatus4xx {
				t.Fatalf("%d: Stream = %v", code, err)
			}
			if s.Count() != 1 || fs.Count() != 0 || len(c.Waits()) != 0 {
				t.Fatalf("%d: %d and %d requests, waits %v; want 1, 0, none", code, s.Count(), fs.Count(), c.Waits())
			}
			expectEvents(t, r, "attempt up 1", "error up status_4xx")
		}
	})
}

func TestUpstreamNeverRetriedAfterFirstToken(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f llmtest.Format) {
		for _, tc := range []struct {
			name   string
			script llmtest.Script
			kind   resilient.Kind
			is     error
		}{
			{"cut mid-answer", llmtest.CutAfter("Hello", " wor"), resilient.KindStreamCut, llm.ErrStreamCut},
			{"error object mid-stream", llmtest.ErrorAfter("overloaded", "Hello", " wor"), resilient.KindStreamError, llm.ErrUpstream},
			{"malformed chunk", llmtest.MalformedAfter("Hello", " wor"), resilient.KindMalformed, llm.ErrMalformed},
			{"clean end without finish", llmtest.EndAfter("Hello", " wor"), resilient.KindStreamCut, llm.ErrStreamCut},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, r := &clock{}, &recorder{}
				up, s := upstream(t, f, "up", tc.script, llmtest.Answer("never"))
				fb, fs := upstream(t, f, "fb", llmtest.Answer("never"))
				p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{up, fb}, After: c.After, Observer: r})
				st, err := p.Stream(t.Context(), providertest.Prompt())
				if err != nil {
					t.Fatal(err)
				}
				res := providertest.Drain(t, st)
				if res.Text != "Hello wor" || !errors.Is(res.Err, tc.is) || !errors.Is(res.Err, llm.ErrUpstream) || resilient.Classify(res.Err) != tc.kind {
					t.Fatalf("got %q, %v (kind %s); want the delivered text and %s", res.Text, res.Err, resilient.Classify(res.Err), tc.kind)
				}
				if s.Count() != 1 || fs.Count() != 0 || len(c.Waits()) != 0 {
					t.Fatalf("retried after the first token: %d and %d requests, waits %v", s.Count(), fs.Count(), c.Waits())
				}
				expectEvents(t, r, "attempt up 1", "error up "+string(tc.kind))
			})
		}
	})
}

func TestUpstreamDeadlineBound(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f llmtest.Format) {
		c := &clock{}
		up, s := upstream(t, f, "up", llmtest.Status(429, "30"))
		p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{up}, After: c.After})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err := p.Stream(ctx, providertest.Prompt())
		if !errors.Is(err, resilient.ErrDeadline) || resilient.Classify(err) != resilient.KindStatus429 {
			t.Fatalf("Stream = %v, want ErrDeadline of kind status_429", err)
		}
		if ctx.Err() != nil || len(c.Waits()) != 0 || s.Count() != 1 {
			t.Fatalf("waited: ctx %v, waits %v, %d requests", ctx.Err(), c.Waits(), s.Count())
		}
	})
}

func TestUpstreamCancelToAbort(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f llmtest.Format) {
		for _, tc := range []struct {
			name   string
			script llmtest.Script
		}{
			{"before the first token", llmtest.StallAfter(nil, "late")},
			{"between tokens", llmtest.StallAfter([]string{"Hello"}, "late")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := &recorder{}
				up, s := upstream(t, f, "up", tc.script)
				p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{up}, Observer: r})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				wait, stop := context.WithTimeout(t.Context(), 10*time.Second)
				defer stop()
				got := make(chan error, 1)
				go func() {
					st, err := p.Stream(ctx, providertest.Prompt())
					if err == nil {
						defer st.Close()
						var c llm.Chunk
						if c, err = st.Recv(); err == nil && c.Text != "Hello" {
							err = fmt.Errorf("first chunk %+v", c)
						}
						if err == nil {
							_, err = st.Recv()
						}
					}
					got <- err
				}()
				if _, err := s.WaitStalled(wait); err != nil {
					t.Fatal(err)
				}
				cancelled := time.Now()
				cancel()
				var err error
				select {
				case err = <-got:
				case <-wait.Done():
					t.Fatal("no return after the cancel")
				}
				returned := time.Since(cancelled)
				if !errors.Is(err, context.Canceled) || resilient.Classify(err) != resilient.KindCancelled {
					t.Fatalf("err = %v, want context.Canceled", err)
				}
				d, err := s.WaitDisconnect(wait)
				if err != nil {
					t.Fatalf("the upstream never saw the disconnect: %v", err)
				}
				expectEvents(t, r, "attempt up 1", "aborted up")
				t.Logf("cancel → returned %v, → observer's abort latency %v, → upstream saw the disconnect %v",
					returned, r.aborted[0], d.At.Sub(cancelled))
			})
		}
	})
}

// logObserver logs like the server will: every error, with its message.
type logObserver struct {
	resilient.NopObserver
	log zerolog.Logger
}

func (o logObserver) Error(up string, k resilient.Kind, err error) {
	o.log.Warn().Str("upstream", up).Str("kind", string(k)).Err(err).Msg("upstream error")
}

func TestUpstreamSecretsStayOut(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f llmtest.Format) {
		var logs bytes.Buffer
		obs := logObserver{log: zerolog.New(&logs)}
		leaky := "key " + providertest.Secret + " rejected"
		for _, script := range []llmtest.Script{
			{Status: 401, Message: "Incorrect API key provided: " + providertest.Secret},
			{Status: 500, Message: leaky},
			llmtest.ErrorAfter(leaky, "Hi"),
		} {
			up, s := upstream(t, f, "up", script)
			p := newResilient(t, resilient.Config{Upstreams: []resilient.Upstream{up}, Observer: obs, After: (&clock{}).After})
			var err error
			st, err := p.Stream(t.Context(), providertest.Prompt())
			if err == nil {
				err = providertest.Drain(t, st).Err
			}
			if err == nil {
				t.Fatal("no error")
			}
			providertest.NoSecret(t, err)
			if !strings.Contains(err.Error(), "[redacted]") {
				t.Fatalf("error %q does not show the redaction", err)
			}
			if got := s.Requests()[0].Header.Get("Authorization"); got != "Bearer "+providertest.Secret {
				t.Fatalf("Authorization %q did not reach the upstream", got)
			}
		}
		if logs.Len() == 0 || strings.Contains(logs.String(), providertest.Secret) {
			t.Fatalf("logs hold the key (or nothing):\n%s", logs.String())
		}
	})
}
