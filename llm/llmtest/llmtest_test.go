package llmtest_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/llmtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite testdata/ from the servers")

// Canonical request bodies, as the providers send them (trimmed to what
// the servers read).
const (
	openAIBody        = `{"messages":[{"content":"Say hello to the world","role":"user"}],"model":"gpt-test","stream_options":{"include_usage":true},"stream":true}`
	openAIBodyNoUsage = `{"messages":[{"content":"Say hello to the world","role":"user"}],"model":"gpt-test","stream":true}`
	anthropicBody     = `{"max_tokens":1024,"messages":[{"content":[{"text":"Say hello to the world","type":"text"}],"role":"user"}],"model":"claude-test","stream":true}`
)

var golden = []struct {
	file   string
	format llmtest.Format
	body   string
	script llmtest.Script
	status int
}{
	{"openai_stream.txt", llmtest.OpenAI, openAIBody, llmtest.Answer("Hello", ",", " world", "!"), 200},
	{"openai_stream_no_usage.txt", llmtest.OpenAI, openAIBodyNoUsage, llmtest.Answer("Hello", ",", " world", "!"), 200},
	{"openai_length.txt", llmtest.OpenAI, openAIBody, llmtest.Finished(llm.FinishLength, "Hello", ",", " wor"), 200},
	{"openai_error_midstream.txt", llmtest.OpenAI, openAIBody, llmtest.ErrorAfter("The server had an error while processing your request.", "Hello"), 200},
	{"openai_malformed.txt", llmtest.OpenAI, openAIBody, llmtest.MalformedAfter("Hello"), 200},
	{"openai_error_429.json", llmtest.OpenAI, openAIBody, llmtest.Status(429, "2"), 429},
	{"openai_tool_calls.txt", llmtest.OpenAI, openAIBody, toolCallScript, 200},
	{"openai_logprobs.txt", llmtest.OpenAI, openAIBody, logprobsScript, 200},
	{"openai_error_400.json", llmtest.OpenAI, openAIBody, llmtest.StatusBody(400, "", "invalid_request_error", "context_length_exceeded", "messages",
		"This model's maximum context length is 128000 tokens."), 400},
	{"anthropic_stream.txt", llmtest.Anthropic, anthropicBody, llmtest.Answer("Hello", ",", " world", "!"), 200},
	{"anthropic_length.txt", llmtest.Anthropic, anthropicBody, llmtest.Finished(llm.FinishLength, "Hello", ",", " wor"), 200},
	{"anthropic_error_midstream.txt", llmtest.Anthropic, anthropicBody, llmtest.ErrorAfter("Overloaded", "Hello"), 200},
	{"anthropic_malformed.txt", llmtest.Anthropic, anthropicBody, llmtest.MalformedAfter("Hello"), 200},
	{"anthropic_error_529.json", llmtest.Anthropic, anthropicBody, llmtest.Status(529, ""), 529},
}

// toolCallScript reasons, then calls two tools, the arguments of each split
// over chunks, as OpenAI streams parallel calls.
var toolCallScript = llmtest.Script{Steps: []llmtest.Step{
	{Reasoning: "The user wants"},
	{Reasoning: " the weather."},
	{ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "call_a", Name: "get_weather"}}},
	{ToolCalls: []llm.ToolCallDelta{{Index: 0, Arguments: `{"city":`}}},
	{ToolCalls: []llm.ToolCallDelta{{Index: 0, Arguments: `"Paris"}`}}},
	{ToolCalls: []llm.ToolCallDelta{{Index: 1, ID: "call_b", Name: "get_time", Arguments: `{"tz":"CET"}`}}},
	{Finish: llm.FinishToolCalls},
	{Usage: true},
	{Done: true},
}}

// logprobsScript streams text with the log probability of each token.
var logprobsScript = llmtest.Script{Steps: []llmtest.Step{
	{Text: "Hello", Logprobs: []llm.TokenLogprob{{Token: "Hello", Logprob: -0.25, Bytes: []int{72, 101, 108, 108, 111},
		Top: []llm.TopLogprob{{Token: "Hello", Logprob: -0.25, Bytes: []int{72, 101, 108, 108, 111}}, {Token: "Hi", Logprob: -1.5, Bytes: []int{72, 105}}}}}},
	{Text: "!", Logprobs: []llm.TokenLogprob{{Token: "!", Logprob: -0.01, Bytes: []int{33}}}},
	{Finish: llm.FinishStop},
	{Usage: true},
	{Done: true},
}}

// post sends body to the server's endpoint and returns the response with
// its body read.
func post(t *testing.T, s *llmtest.Server, body string) (*http.Response, string) {
	t.Helper()
	path := "/chat/completions"
	if s.Format() == llmtest.Anthropic {
		path = "/v1/messages"
	}
	res, err := s.Client().Post(s.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return res, string(b)
}

func TestGolden(t *testing.T) {
	for _, tc := range golden {
		t.Run(tc.file, func(t *testing.T) {
			s := llmtest.New(t, tc.format, tc.script)
			res, got := post(t, s, tc.body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			wantType := "text/event-stream; charset=utf-8"
			if tc.status != 200 {
				wantType = "application/json"
			}
			if ct := res.Header.Get("Content-Type"); ct != wantType {
				t.Fatalf("Content-Type %q, want %q", ct, wantType)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := llmtest.Fixture(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("bytes differ from %s (run with -update to rewrite):\ngot:\n%s\nwant:\n%s", path, got, want)
			}
			// Replaying the fixture sends the same bytes.
			if tc.status == 200 {
				r := llmtest.New(t, tc.format, llmtest.Replay(want))
				if _, again := post(t, r, tc.body); again != want {
					t.Fatalf("replay differs:\n%s", again)
				}
			}
		})
	}
}

func TestFixturesAreAllGolden(t *testing.T) {
	known := map[string]bool{}
	for _, tc := range golden {
		known[tc.file] = true
	}
	for _, name := range llmtest.Fixtures() {
		if !known[name] {
			t.Errorf("testdata/%s has no golden test", name)
		}
	}
	if _, err := llmtest.Fixture("nope.txt"); err == nil {
		t.Error("Fixture(nope.txt) = nil error")
	}
}

func TestRecordsRequestsAndRepeatsLastScript(t *testing.T) {
	s := llmtest.NewOpenAIServer(t, llmtest.Status(500, ""), llmtest.Answer("a"))
	for i, want := range []int{500, 200, 200} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/chat/completions", strings.NewReader(openAIBody))
		req.Header.Set("Authorization", "Bearer k")
		res, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("request %d: status %d, want %d", i, res.StatusCode, want)
		}
	}
	reqs := s.Requests()
	if len(reqs) != 3 || s.Count() != 3 {
		t.Fatalf("%d requests recorded, want 3", len(reqs))
	}
	r := reqs[2]
	if r.Index != 2 || r.Path != "/v1/chat/completions" || r.Model != "gpt-test" || !r.IncludeUsage ||
		r.Header.Get("Authorization") != "Bearer k" || string(r.Body) != openAIBody {
		t.Fatalf("request = %+v", r)
	}
}

func TestUnknownRoute(t *testing.T) {
	s := llmtest.NewAnthropicServer(t, llmtest.Answer("a"))
	res, body := post(t, s, anthropicBody) // the right route
	if res.StatusCode != 200 || !strings.Contains(body, "message_stop") {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	res, err := s.Client().Get(s.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /v1/models: %d, want 404", res.StatusCode)
	}
}

func TestHangupAndCut(t *testing.T) {
	s := llmtest.NewOpenAIServer(t, llmtest.Script{Hangup: true}, llmtest.CutAfter("a"))
	_, err := s.Client().Post(s.URL+"/chat/completions", "application/json", strings.NewReader(openAIBody))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("hangup: %v, want EOF", err)
	}
	res, err := s.Client().Post(s.URL+"/chat/completions", "application/json", strings.NewReader(openAIBody))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(string(b), `"content":"a"`) {
		t.Fatalf("cut: read %q, %v; want the text then an unexpected EOF", b, err)
	}
}

func TestStallReleaseAndDisconnect(t *testing.T) {
	s := llmtest.NewAnthropicServer(t, llmtest.StallAfter([]string{"a"}, "b"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// Released: the answer completes.
	done := make(chan string)
	go func() {
		_, body := post(t, s, anthropicBody)
		done <- body
	}()
	if i, err := s.WaitStalled(ctx); err != nil || i != 0 {
		t.Fatalf("WaitStalled = %d, %v", i, err)
	}
	s.Release()
	if body := <-done; !strings.Contains(body, `"text":"b"`) || !strings.HasSuffix(body, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Fatalf("released body %q", body)
	}

	// The client goes away: the server sees it.
	reqCtx, cancelReq := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(reqCtx, http.MethodPost, s.URL+"/v1/messages", strings.NewReader(anthropicBody))
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if i, err := s.WaitStalled(ctx); err != nil || i != 1 {
		t.Fatalf("WaitStalled = %d, %v", i, err)
	}
	cancelled := time.Now()
	cancelReq()
	res.Body.Close()
	d, err := s.WaitDisconnect(ctx)
	if err != nil || d.Request != 1 || d.At.Before(cancelled) {
		t.Fatalf("WaitDisconnect = %+v, %v", d, err)
	}
	t.Logf("cancel to server-side disconnect: %v", d.At.Sub(cancelled))
	if got := s.Disconnects(); len(got) != 1 || got[0] != d {
		t.Fatalf("Disconnects = %+v", got)
	}
}

func TestCloseReleasesStalls(t *testing.T) {
	s, err := llmtest.StartOpenAI(llmtest.Script{StallHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error)
	go func() {
		_, err := s.Client().Post(s.URL+"/chat/completions", "application/json", strings.NewReader(openAIBody))
		errc <- err
	}()
	if _, err := s.WaitStalled(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if err := <-errc; err == nil {
		t.Fatal("a request stalled before its headers succeeded after Close")
	}
}

func TestClosedURLRefuses(t *testing.T) {
	u, err := llmtest.ClosedURL()
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	_, err = c.Get(u)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("GET %s: %v, want connection refused", u, err)
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := llmtest.Start(llmtest.OpenAI); err == nil {
		t.Error("Start without scripts = nil error")
	}
	if _, err := llmtest.Start(llmtest.Format(9), llmtest.Answer()); err == nil {
		t.Error("Start with an unknown format = nil error")
	}
	if llmtest.OpenAI.String() != "openai" || llmtest.Anthropic.String() != "anthropic" {
		t.Error("Format.String")
	}
}
