package openaiapi

import (
	"context"
	"errors"
	"fmt"
	stdhttp "net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// refusing is a provider whose every call is refused with err.
type refusing struct {
	err   error
	calls atomic.Int64
}

func (p *refusing) Name() string                   { return "refusing" }
func (p *refusing) Capabilities() llm.Capabilities { return llm.AllCapabilities() }
func (p *refusing) Stream(context.Context, llm.Request) (llm.Stream, error) {
	p.calls.Add(1)
	return nil, p.err
}

// attempt is one HTTP attempt the SDK made, as the server answered it.
type attempt struct {
	status     int
	retryAfter string
}

// recordingClient is an openai-go client with its default retries, which
// records every attempt; it makes the SDK's waits between retries 1 ms.
func (e *env) recordingClient(attempts *[]attempt, mu *sync.Mutex) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(e.url+"/v1/"),
		option.WithAPIKey(keyA),
		option.WithMaxRetries(2),
		option.WithHTTPClient(e.client),
		option.WithMiddleware(func(r *stdhttp.Request, next option.MiddlewareNext) (*stdhttp.Response, error) {
			res, err := next(r)
			if res != nil {
				mu.Lock()
				*attempts = append(*attempts, attempt{res.StatusCode, res.Header.Get("Retry-After")})
				mu.Unlock()
				res.Header.Set("Retry-After-Ms", "1") // no real waits in tests
			}
			return res, err
		}),
	)
}

// An upstream refusal before any output reaches the client with the
// upstream's status, type, code, param, message and Retry-After (5xx as
// 502 upstream_error), on every route, streamed or not; the SDK retries
// exactly what it retries from OpenAI, and each attempt is one upstream
// call.
func TestUpstreamErrorsKeepTheirMeaning(t *testing.T) {
	for _, tc := range []struct {
		status     int
		typ        string
		retryAfter time.Duration
		wantStatus int
		wantType   string
		wantCode   string
		wantParam  string
		wantRA     string
		retried    bool
	}{
		{400, "invalid_request_error", 0, 400, "invalid_request_error", "code_400", "messages", "", false},
		{401, "invalid_request_error", 0, 401, "invalid_request_error", "code_401", "messages", "", false},
		{403, "", 0, 403, "invalid_request_error", "code_403", "messages", "", false},
		{404, "invalid_request_error", 0, 404, "invalid_request_error", "code_404", "messages", "", false},
		{408, "", 0, 408, "invalid_request_error", "code_408", "messages", "", true},
		{409, "", 0, 409, "invalid_request_error", "code_409", "messages", "", true},
		{413, "", 0, 413, "invalid_request_error", "code_413", "messages", "", false},
		{422, "", 0, 422, "invalid_request_error", "code_422", "messages", "", false},
		{429, "", 0, 429, "requests", "code_429", "messages", "", true},
		{429, "tokens", 1500 * time.Millisecond, 429, "tokens", "code_429", "messages", "2", true},
		{500, "server_error", 0, 502, "server_error", "upstream_error", "", "", true},
		{502, "", 0, 502, "server_error", "upstream_error", "", "", true},
		{503, "", 3 * time.Second, 502, "server_error", "upstream_error", "", "3", true},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.retryAfter), func(t *testing.T) {
			prov := &refusing{err: fmt.Errorf("resilient: openai: %w", &llm.StatusError{StatusCode: tc.status, RetryAfter: tc.retryAfter,
				Message: "upstream says no", Type: tc.typ, Code: fmt.Sprintf("code_%d", tc.status), Param: "messages"})}
			e := newEnv(t, withEngine(func(c *actors.Config) { c.Provider = prov }))
			var mu sync.Mutex
			var attempts []attempt
			client := e.recordingClient(&attempts, &mu)
			chat := openai.ChatCompletionNewParams{Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
			resp := responses.ResponseNewParams{Input: input("hi")}
			for _, route := range []struct {
				name string
				call func() error
			}{
				{"chat", func() error { _, err := client.Chat.Completions.New(e.ctx(), chat); return err }},
				{"chat stream", func() error {
					st := client.Chat.Completions.NewStreaming(e.ctx(), chat)
					defer st.Close()
					for st.Next() {
					}
					return st.Err()
				}},
				{"responses", func() error { _, err := client.Responses.New(e.ctx(), resp); return err }},
				{"responses stream", func() error {
					st := client.Responses.NewStreaming(e.ctx(), resp)
					defer st.Close()
					for st.Next() {
					}
					return st.Err()
				}},
			} {
				mu.Lock()
				attempts = attempts[:0]
				mu.Unlock()
				before := prov.calls.Load()
				err := route.call()
				var ae *openai.Error
				if !errors.As(err, &ae) {
					t.Fatalf("%s: error %v (%T)", route.name, err, err)
				}
				if ae.StatusCode != tc.wantStatus || ae.Type != tc.wantType || ae.Code != tc.wantCode || ae.Param != tc.wantParam ||
					!strings.Contains(ae.Message, "upstream says no") || strings.Contains(ae.Message, "llm:") || strings.Contains(ae.Message, "resilient") {
					t.Fatalf("%s: got %d %s", route.name, ae.StatusCode, ae.RawJSON())
				}
				want := 1
				if tc.retried {
					want = 3
				}
				mu.Lock()
				got := append([]attempt(nil), attempts...)
				mu.Unlock()
				if len(got) != want || prov.calls.Load()-before != int64(want) {
					t.Fatalf("%s: %d attempts, %d upstream calls; want %d", route.name, len(got), prov.calls.Load()-before, want)
				}
				for _, a := range got {
					if a.status != tc.wantStatus || a.retryAfter != tc.wantRA {
						t.Fatalf("%s: attempt %+v, want status %d Retry-After %q", route.name, a, tc.wantStatus, tc.wantRA)
					}
				}
			}
		})
	}
}

// After output was sent, the failure ends the stream in-band with the
// upstream's code; a failed Response's error has type, code and message.
func TestUpstreamErrorAfterOutputIsInBand(t *testing.T) {
	e := newEnv(t)
	res := e.start("POST", "/v1/chat/completions", `{"stream":true,"messages":[{"role":"user","content":"hi"}]}`, keyA)
	s := e.script()
	s.Token("partial")
	s.Fail(&llm.StreamError{Type: "server_error", Message: "overloaded"})
	r := wait(t, res)
	if r.status != 200 || !strings.Contains(string(r.body), `"content":"partial"`) ||
		!strings.Contains(string(r.body), `data: {"error":{"message":"overloaded","type":"server_error","param":null,"code":"upstream_error"}}`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	res = e.start("POST", "/v1/responses", `{"stream":true,"input":"hi"}`, keyA)
	s = e.script()
	s.Token("partial")
	s.Fail(&llm.StatusError{StatusCode: 429, Code: "rate_limit_exceeded", Message: "slow down"})
	r = wait(t, res)
	if r.status != 200 || !strings.Contains(string(r.body), `"error":{"type":"requests","code":"rate_limit_exceeded","message":"slow down"}`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
}
