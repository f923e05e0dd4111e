package anthropic_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newProvider(t *testing.T, cfg anthropic.Config) *anthropic.Provider {
	t.Helper()
	p, err := anthropic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func factory(t *testing.T, baseURL string, hc *http.Client) llm.Provider {
	return newProvider(t, anthropic.Config{BaseURL: baseURL, APIKey: providertest.Secret, Model: "claude-test", HTTPClient: hc})
}

func TestContract(t *testing.T) { providertest.Run(t, llmtest.Anthropic, factory) }

func TestRequestShape(t *testing.T) {
	s := llmtest.NewAnthropicServer(t, llmtest.Answer("a"))
	p := newProvider(t, anthropic.Config{
		BaseURL:      s.URL,
		APIKey:       providertest.Secret,
		HTTPClient:   s.Client(),
		ExtraHeaders: map[string]string{"Anthropic-Beta": "x-2026"},
	})
	req := llm.Request{Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: "Be brief."},
		{Role: llm.RoleUser, Content: "Hi"},
		{Role: llm.RoleAssistant, Content: "Hello."},
		{Role: llm.RoleSystem, Content: "Really."},
		{Role: llm.RoleUser, Content: "Again"},
	}}
	st, err := p.Stream(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	r := providertest.Drain(t, st)
	if r.Err != nil || r.Usage == nil || r.Usage.PromptTokens != 6 {
		t.Fatalf("got %+v (usage %+v)", r, r.Usage)
	}
	body := providertest.SentJSON(t, s)
	if body["model"] != anthropic.DefaultModel || body["stream"] != true || body["max_tokens"] != float64(anthropic.DefaultMaxTokens) {
		t.Fatalf("body %v", body)
	}
	system, _ := json.Marshal(body["system"])
	if string(system) != `[{"text":"Be brief.","type":"text"},{"text":"Really.","type":"text"}]` {
		t.Fatalf("system %s", system)
	}
	msgs, _ := json.Marshal(body["messages"])
	want := `[{"content":[{"text":"Hi","type":"text"}],"role":"user"},{"content":[{"text":"Hello.","type":"text"}],"role":"assistant"},{"content":[{"text":"Again","type":"text"}],"role":"user"}]`
	if string(msgs) != want {
		t.Fatalf("messages %s, want %s", msgs, want)
	}
	h := s.Requests()[0].Header
	if h.Get("Anthropic-Beta") != "x-2026" || h.Get("Authorization") != "Bearer "+providertest.Secret || h.Get("Anthropic-Version") == "" {
		t.Fatalf("headers %v", h)
	}
}

func TestOnlySystemMessages(t *testing.T) {
	s := llmtest.NewAnthropicServer(t, llmtest.Answer("a"))
	p := newProvider(t, anthropic.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	_, err := p.Stream(t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "x"}}})
	if !errors.Is(err, llm.ErrInvalidRequest) || s.Count() != 0 {
		t.Fatalf("Stream = %v (%d requests), want ErrInvalidRequest", err, s.Count())
	}
}

func TestNoSDKRetries(t *testing.T) {
	s := llmtest.NewAnthropicServer(t, llmtest.Status(529, ""), llmtest.Answer("a"))
	p := newProvider(t, anthropic.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	if _, err := p.Stream(t.Context(), llm.Prompt("x")); err == nil {
		t.Fatal("Stream succeeded: the SDK retried")
	}
	if n := s.Count(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestIgnoresEnvironment(t *testing.T) {
	s := llmtest.NewAnthropicServer(t, llmtest.Answer("a"))
	t.Setenv("ANTHROPIC_API_KEY", "sk-from-env")
	t.Setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")
	t.Setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Env: leaked")
	p := newProvider(t, anthropic.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	st, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	providertest.Drain(t, st)
	h := s.Requests()[0].Header
	if h.Get("Authorization") != "" || h.Get("X-Api-Key") != "" || h.Get("X-Env") != "" {
		t.Fatalf("environment leaked into the request: %v", h)
	}
}

func TestStopReasons(t *testing.T) {
	for wire, want := range map[string]llm.FinishReason{
		"end_turn":                      llm.FinishStop,
		"stop_sequence":                 llm.FinishStop,
		"tool_use":                      llm.FinishToolCalls,
		"pause_turn":                    llm.FinishStop,
		"max_tokens":                    llm.FinishLength,
		"model_context_window_exceeded": llm.FinishLength,
		"refusal":                       llm.FinishContentFilter,
		"something_new":                 llm.FinishStop,
	} {
		s := llmtest.NewAnthropicServer(t, llmtest.Script{Steps: []llmtest.Step{{Text: "a"}, {WireFinish: wire}, {Done: true}}})
		p := newProvider(t, anthropic.Config{BaseURL: s.URL, HTTPClient: s.Client()})
		st, err := p.Stream(t.Context(), llm.Prompt("x"))
		if err != nil {
			t.Fatal(err)
		}
		if r := providertest.Drain(t, st); r.Err != nil || r.Finish != want {
			t.Errorf("%s: finish %q, %v; want %q", wire, r.Finish, r.Err, want)
		}
	}
}

func TestOddEvents(t *testing.T) {
	const start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
	delta := func(typ, field, text string) string {
		return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"" + typ + "\",\"" + field + "\":\"" + text + "\"}}\n\n"
	}
	const stop = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":9,\"output_tokens\":2}}\n\n"
	const end = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	for _, tc := range []struct {
		name  string
		raw   string
		text  string
		usage *llm.Usage
		err   error
	}{
		{"text in content_block_start", start + "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"Hi\"}}\n\n" + stop + end,
			"Hi", &llm.Usage{PromptTokens: 9, CompletionTokens: 2}, nil},
		{"thinking delta, and input of no tool_use block, skipped from the text", start + delta("thinking_delta", "thinking", "hm") + delta("text_delta", "text", "a") +
			delta("input_json_delta", "partial_json", "{") + "event: ping\ndata: {\"type\": \"ping\"}\n\n" + stop + end,
			"a", &llm.Usage{PromptTokens: 9, CompletionTokens: 2}, nil},
		{"unknown event skipped", start + "event: future\ndata: {\"type\":\"future\"}\n\n" + delta("text_delta", "text", "a") + stop + end,
			"a", &llm.Usage{PromptTokens: 9, CompletionTokens: 2}, nil},
		{"message_stop without stop_reason", start + delta("text_delta", "text", "a") + end, "a", nil, llm.ErrStreamCut},
		{"body ends after stop_reason", start + delta("text_delta", "text", "a") + stop, "a", &llm.Usage{PromptTokens: 9, CompletionTokens: 2}, nil},
		{"not JSON", "event: message_start\ndata: nope\n\n", "", nil, llm.ErrMalformed},
		{"error with a bare payload", start + "event: error\ndata: overloaded\n\n", "", nil, llm.ErrUpstream},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := llmtest.NewAnthropicServer(t, llmtest.Replay(tc.raw))
			p := newProvider(t, anthropic.Config{BaseURL: s.URL, HTTPClient: s.Client()})
			st, err := p.Stream(t.Context(), llm.Prompt("x"))
			if err != nil {
				t.Fatal(err)
			}
			r := providertest.Drain(t, st)
			if r.Text != tc.text || !errors.Is(r.Err, tc.err) || (tc.err == nil && r.Err != nil) {
				t.Fatalf("got %q, %v; want %q, %v", r.Text, r.Err, tc.text, tc.err)
			}
			if (tc.usage == nil) != (r.Usage == nil) || (tc.usage != nil && *tc.usage != *r.Usage) {
				t.Fatalf("usage %+v, want %+v", r.Usage, tc.usage)
			}
		})
	}
}

func TestDefaultHTTPClient(t *testing.T) {
	s := llmtest.NewAnthropicServer(t, llmtest.Answer("a", "b"))
	p := newProvider(t, anthropic.Config{BaseURL: s.URL})
	st, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	if r := providertest.Drain(t, st); r.Text != "ab" {
		t.Fatalf("got %+v", r)
	}
}

func TestConfig(t *testing.T) {
	p := newProvider(t, anthropic.Config{})
	if p.Name() != "anthropic" {
		t.Fatalf("Name = %q", p.Name())
	}
	if d := anthropic.DefaultConfig(); d.BaseURL != "https://api.anthropic.com" || d.MaxTokens != 1024 || d.Model == "" {
		t.Fatalf("DefaultConfig = %+v", d)
	}
	for _, cfg := range []anthropic.Config{
		{BaseURL: "api.anthropic.com"},
		{MaxTokens: -1},
		{MaxTokens: 1<<20 + 1},
		{ExtraHeaders: map[string]string{"": "x"}},
		{ExtraHeaders: map[string]string{"X-Ok": "a\nb"}},
		{APIKey: "\x00" + providertest.Secret},
	} {
		err := cfg.Validate()
		if !errors.Is(err, anthropic.ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidConfig", cfg, err)
			continue
		}
		if strings.Contains(err.Error(), providertest.Secret) {
			t.Errorf("Validate leaks the key: %v", err)
		}
	}
}
