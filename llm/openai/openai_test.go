package openai_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/openai"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newProvider(t testing.TB, cfg openai.Config) *openai.Provider {
	t.Helper()
	p, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func factory(t *testing.T, baseURL string, hc *http.Client) llm.Provider {
	return newProvider(t, openai.Config{BaseURL: baseURL, APIKey: providertest.Secret, Model: "gpt-test", HTTPClient: hc})
}

func TestContract(t *testing.T) { providertest.Run(t, llmtest.OpenAI, factory) }

// TestRequestBody checks the body on the wire against the one the SDK used
// to build (ChatCompletionNewParams plus "stream": true), compared as JSON
// values.
func TestRequestBody(t *testing.T) {
	conversation := []llm.Message{
		{Role: llm.RoleSystem, Content: "Be brief."},
		{Role: llm.RoleUser, Content: "Hi"},
		{Role: llm.RoleAssistant, Content: "Hello."},
		{Role: llm.RoleUser, Content: "Again"},
	}
	for _, tc := range []struct {
		name               string
		givenMaxCompletion bool
		whenReq            llm.Request
		expectBody         string
	}{
		{
			name:       "plain prompt, default model",
			whenReq:    llm.Prompt("x"),
			expectBody: `{"messages":[{"content":"x","role":"user"}],"model":"gpt-test","stream_options":{"include_usage":true},"stream":true}`,
		},
		{
			name:    "system and assistant messages keep their roles and order",
			whenReq: llm.Request{Messages: conversation},
			expectBody: `{"messages":[{"content":"Be brief.","role":"system"},{"content":"Hi","role":"user"},{"content":"Hello.","role":"assistant"},{"content":"Again","role":"user"}],` +
				`"model":"gpt-test","stream_options":{"include_usage":true},"stream":true}`,
		},
		{
			name:       "MaxTokens as max_tokens",
			whenReq:    llm.Request{Messages: conversation[1:2], MaxTokens: 9},
			expectBody: `{"messages":[{"content":"Hi","role":"user"}],"model":"gpt-test","max_tokens":9,"stream_options":{"include_usage":true},"stream":true}`,
		},
		{
			name:               "MaxTokens as max_completion_tokens",
			givenMaxCompletion: true,
			whenReq:            llm.Request{Messages: conversation[1:2], MaxTokens: 9},
			expectBody:         `{"messages":[{"content":"Hi","role":"user"}],"model":"gpt-test","max_completion_tokens":9,"stream_options":{"include_usage":true},"stream":true}`,
		},
		{
			name:               "MaxCompletionTokens without a limit sends none",
			givenMaxCompletion: true,
			whenReq:            llm.Prompt("x"),
			expectBody:         `{"messages":[{"content":"x","role":"user"}],"model":"gpt-test","stream_options":{"include_usage":true},"stream":true}`,
		},
		{
			name:       "model override",
			whenReq:    llm.Request{Model: "special-model", Messages: conversation[1:2]},
			expectBody: `{"messages":[{"content":"Hi","role":"user"}],"model":"special-model","stream_options":{"include_usage":true},"stream":true}`,
		},
		{
			name: "empty contents are sent, strings are escaped",
			whenReq: llm.Request{Messages: []llm.Message{
				{Role: llm.RoleSystem},
				{Role: llm.RoleUser, Content: "<a&b> \u2028 \"q\" \\ \t \xff é"},
				{Role: llm.RoleAssistant},
			}},
			expectBody: `{"messages":[{"content":"","role":"system"},{"content":"<a&b> \u2028 \"q\" \\ \t \ufffd é","role":"user"},{"content":"","role":"assistant"}],` +
				`"model":"gpt-test","stream_options":{"include_usage":true},"stream":true}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := llmtest.NewOpenAIServer(t, llmtest.Answer("a"))
			p := newProvider(t, openai.Config{BaseURL: s.URL, Model: "gpt-test", HTTPClient: s.Client(), MaxCompletionTokens: tc.givenMaxCompletion})
			st, err := p.Stream(t.Context(), tc.whenReq)
			if err != nil {
				t.Fatal(err)
			}
			if r := providertest.Drain(t, st); r.Err != nil {
				t.Fatal(r.Err)
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(tc.expectBody), &want); err != nil {
				t.Fatal(err)
			}
			if got := providertest.SentJSON(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("body\n%s\nwant\n%s", s.Requests()[0].Body, tc.expectBody)
			}
		})
	}
}

func TestDefaultModel(t *testing.T) {
	s := llmtest.NewOpenAIServer(t, llmtest.Answer("a"))
	p := newProvider(t, openai.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	st, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Drain(t, st)
	if got := providertest.SentJSON(t, s)["model"]; got != openai.DefaultModel {
		t.Fatalf("model %v, want %s", got, openai.DefaultModel)
	}
}

func TestRequestHeaders(t *testing.T) {
	for _, tc := range []struct {
		name       string
		givenKey   string
		givenExtra map[string]string
		expect     map[string]string // "" means absent
	}{
		{
			name:       "key and extra headers",
			givenKey:   providertest.Secret,
			givenExtra: map[string]string{"X-Route": "blue"},
			expect: map[string]string{
				"Authorization":           "Bearer " + providertest.Secret,
				"X-Route":                 "blue",
				"Content-Type":            "application/json",
				"Accept":                  "application/json",
				"X-Stainless-Retry-Count": "0",
				"X-Stainless-Lang":        "go",
			},
		},
		{
			name:   "no key, no Authorization",
			expect: map[string]string{"Authorization": "", "Content-Type": "application/json"},
		},
		{
			// As with the SDK building the body: extra headers are applied
			// after its defaults, so they may replace them.
			name:       "extra headers override the defaults",
			givenKey:   providertest.Secret,
			givenExtra: map[string]string{"Content-Type": "application/json; charset=utf-8", "Authorization": "Token other"},
			expect:     map[string]string{"Content-Type": "application/json; charset=utf-8", "Authorization": "Token other"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := llmtest.NewOpenAIServer(t, llmtest.Answer("a"))
			p := newProvider(t, openai.Config{BaseURL: s.URL, APIKey: tc.givenKey, HTTPClient: s.Client(), ExtraHeaders: tc.givenExtra})
			st, err := p.Stream(t.Context(), llm.Prompt("x"))
			if err != nil {
				t.Fatal(err)
			}
			providertest.Drain(t, st)
			req := s.Requests()[0]
			if req.Method != http.MethodPost || req.Path != "/v1/chat/completions" {
				t.Fatalf("%s %s", req.Method, req.Path)
			}
			for name, want := range tc.expect {
				if got := req.Header.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestInvalidRequest(t *testing.T) {
	nan := math.NaN()
	p := newProvider(t, openai.Config{BaseURL: "http://127.0.0.1:1/v1"})
	for _, tc := range []struct {
		req  llm.Request
		want string
	}{
		{llm.Request{}, "openai: " + llm.ErrInvalidRequest.Error() + ": no messages"},
		{llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}, {Role: "robot", Content: "y"}}},
			"openai: " + llm.ErrInvalidRequest.Error() + `: message 1 has unknown role "robot"`},
		{llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}, {Role: llm.RoleTool, Content: "y"}}},
			"openai: " + llm.ErrInvalidRequest.Error() + `: message 1 (role tool) has no tool_call_id`},
		{llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}, Settings: llm.Settings{Tools: []llm.Tool{{}}}},
			"openai: " + llm.ErrInvalidRequest.Error() + `: tools[0] has no name`},
		{llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}, Settings: llm.Settings{Temperature: &nan}},
			"openai: " + llm.ErrInvalidRequest.Error() + `: encoding the request: json: unsupported value: NaN`},
	} {
		_, err := p.Stream(t.Context(), tc.req)
		if !errors.Is(err, llm.ErrInvalidRequest) || err.Error() != tc.want {
			t.Errorf("Stream(%+v) = %v, want %s", tc.req, err, tc.want)
		}
	}
}

func TestNoSDKRetries(t *testing.T) {
	s := llmtest.NewOpenAIServer(t, llmtest.Status(500, ""), llmtest.Answer("a"))
	p := newProvider(t, openai.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	if _, err := p.Stream(t.Context(), llm.Prompt("x")); err == nil {
		t.Fatal("Stream succeeded: the SDK retried")
	}
	if n := s.Count(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestIgnoresEnvironment(t *testing.T) {
	s := llmtest.NewOpenAIServer(t, llmtest.Answer("a"))
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("OPENAI_ORG_ID", "org-env")
	p := newProvider(t, openai.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	st, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Drain(t, st)
	h := s.Requests()[0].Header
	if h.Get("Authorization") != "" || h.Get("OpenAI-Organization") != "" {
		t.Fatalf("environment leaked into the request: %v", h)
	}
}

func TestFinishReasons(t *testing.T) {
	for wire, want := range map[string]llm.FinishReason{
		"stop":           llm.FinishStop,
		"length":         llm.FinishLength,
		"content_filter": llm.FinishContentFilter,
		"tool_calls":     llm.FinishToolCalls,
		"function_call":  llm.FinishToolCalls,
		"something_new":  llm.FinishStop,
	} {
		s := llmtest.NewOpenAIServer(t, llmtest.Script{Steps: []llmtest.Step{{Text: "a"}, {WireFinish: wire}, {Done: true}}})
		p := newProvider(t, openai.Config{BaseURL: s.URL, HTTPClient: s.Client()})
		st, err := p.Stream(t.Context(), llm.Prompt("x"))
		if err != nil {
			t.Fatal(err)
		}
		if r := providertest.Drain(t, st); r.Err != nil || r.Finish != want {
			t.Errorf("%s: finish %q, %v; want %q", wire, r.Finish, r.Err, want)
		}
	}
}

func TestOddChunks(t *testing.T) {
	const prefix = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":`
	for _, tc := range []struct {
		name string
		raw  string
		text string
		err  error
	}{
		{"other choices ignored", prefix + `[{"index":1,"delta":{"content":"x"},"finish_reason":null},{"index":0,"delta":{"content":"a"},"finish_reason":null}]}` + "\n\n" +
			prefix + `[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n", "a", nil},
		{"comments and unknown fields", ": keep-alive\n\n" + prefix + `[{"index":0,"delta":{"content":"a","reasoning_content":"hm"},"finish_reason":null}],"extra":1}` + "\n\n" +
			prefix + `[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n", "a", nil},
		{"choices not an array", prefix + `5}` + "\n\n", "", llm.ErrMalformed},
		{"not JSON", "data: hello\n\n", "", llm.ErrMalformed},
		{"error without message", `data: {"error":{"code":"overloaded"}}` + "\n\n", "", llm.ErrUpstream},
		{"text after the finish is dropped", prefix + `[{"index":0,"delta":{"content":"a"},"finish_reason":"length"}]}` + "\n\n" +
			prefix + `[{"index":0,"delta":{"content":"b"},"finish_reason":null}]}` + "\n\ndata: [DONE]\n\n", "a", nil},
		{"error after the finish ends cleanly", prefix + `[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}` + "\n\n" +
			`data: {"error":{"message":"late"}}` + "\n\n", "a", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := llmtest.NewOpenAIServer(t, llmtest.Replay(tc.raw))
			p := newProvider(t, openai.Config{BaseURL: s.URL, HTTPClient: s.Client()})
			st, err := p.Stream(t.Context(), llm.Prompt("x"))
			if err != nil {
				t.Fatal(err)
			}
			r := providertest.Drain(t, st)
			if r.Text != tc.text || !errors.Is(r.Err, tc.err) || (tc.err == nil && r.Err != nil) {
				t.Fatalf("got %q, %v; want %q, %v", r.Text, r.Err, tc.text, tc.err)
			}
		})
	}
}

func TestDefaultHTTPClient(t *testing.T) {
	s := llmtest.NewOpenAIServer(t, llmtest.Answer("a", "b"))
	p := newProvider(t, openai.Config{BaseURL: s.URL})
	st, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	if r := providertest.Drain(t, st); r.Text != "ab" {
		t.Fatalf("got %+v", r)
	}
}

func TestConfig(t *testing.T) {
	p := newProvider(t, openai.Config{})
	if p.Name() != "openai" {
		t.Fatalf("Name = %q", p.Name())
	}
	if p := newProvider(t, openai.Config{Name: "local-vllm"}); p.Name() != "local-vllm" {
		t.Fatalf("Name = %q", p.Name())
	}
	if d := openai.DefaultConfig(); d.BaseURL != "https://api.openai.com/v1" || d.Model == "" || d.Name != "openai" {
		t.Fatalf("DefaultConfig = %+v", d)
	}
	for _, cfg := range []openai.Config{
		{BaseURL: "api.openai.com/v1"},
		{BaseURL: "ftp://x/v1"},
		{BaseURL: "http://"},
		{BaseURL: "http://a b/"},
		{ExtraHeaders: map[string]string{"Bad Name": "x"}},
		{ExtraHeaders: map[string]string{"X-Ok": "a\r\nInjected: 1"}},
		{APIKey: providertest.Secret + "\n"},
	} {
		err := cfg.Validate()
		if !errors.Is(err, openai.ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidConfig", cfg, err)
			continue
		}
		if strings.Contains(err.Error(), providertest.Secret) {
			t.Errorf("Validate leaks the key: %v", err)
		}
		if _, err := openai.New(cfg); !errors.Is(err, openai.ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
}
