package openai_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/openai"
)

func ptr[T any](v T) *T { return &v }

// TestSettingsBody checks that every setting reaches the upstream under
// its Chat Completions name, and nothing else changes: the whole body is
// compared as a JSON value.
func TestSettingsBody(t *testing.T) {
	const head = `"messages":[{"content":"x","role":"user"}],"model":"gpt-test","stream_options":{"include_usage":true},"stream":true`
	weather := llm.Tool{Name: "get_weather", Description: "The weather in a city.",
		Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`), Strict: ptr(true)}
	for _, tc := range []struct {
		name       string
		givenMaxCT bool // Config.MaxCompletionTokens
		whenTokens int
		when       llm.Settings
		expect     string // the fields beside head
	}{
		{name: "temperature", when: llm.Settings{Temperature: ptr(0.7)}, expect: `"temperature":0.7`},
		{name: "temperature 0 is sent", when: llm.Settings{Temperature: ptr(0.0)}, expect: `"temperature":0`},
		{name: "top_p", when: llm.Settings{TopP: ptr(0.9)}, expect: `"top_p":0.9`},
		{name: "max_tokens as given", whenTokens: 50, when: llm.Settings{MaxTokensField: llm.FieldMaxTokens}, expect: `"max_tokens":50`},
		{name: "max_tokens by default", whenTokens: 50, expect: `"max_tokens":50`},
		{name: "max_completion_tokens as given", whenTokens: 50, when: llm.Settings{MaxTokensField: llm.FieldMaxCompletionTokens}, expect: `"max_completion_tokens":50`},
		{name: "max_output_tokens as max_completion_tokens", whenTokens: 50, when: llm.Settings{MaxTokensField: llm.FieldMaxOutputTokens}, expect: `"max_completion_tokens":50`},
		{name: "Config.MaxCompletionTokens wins over max_tokens", givenMaxCT: true, whenTokens: 50, when: llm.Settings{MaxTokensField: llm.FieldMaxTokens}, expect: `"max_completion_tokens":50`},
		{name: "stop", when: llm.Settings{Stop: []string{"come", "\n\n"}}, expect: `"stop":["come","\n\n"]`},
		{name: "seed", when: llm.Settings{Seed: ptr(int64(-9007199254740993))}, expect: `"seed":-9007199254740993`},
		{name: "seed 0 is sent", when: llm.Settings{Seed: ptr(int64(0))}, expect: `"seed":0`},
		{name: "presence_penalty", when: llm.Settings{PresencePenalty: ptr(-0.5)}, expect: `"presence_penalty":-0.5`},
		{name: "frequency_penalty", when: llm.Settings{FrequencyPenalty: ptr(1.25)}, expect: `"frequency_penalty":1.25`},
		{name: "logit_bias", when: llm.Settings{LogitBias: map[string]float64{"50256": -100, "1234": 2.5}}, expect: `"logit_bias":{"1234":2.5,"50256":-100}`},
		{name: "user", when: llm.Settings{User: "user-42"}, expect: `"user":"user-42"`},
		{name: "service_tier", when: llm.Settings{ServiceTier: "flex"}, expect: `"service_tier":"flex"`},
		{name: "reasoning_effort", when: llm.Settings{ReasoningEffort: "low"}, expect: `"reasoning_effort":"low"`},
		{name: "logprobs", when: llm.Settings{Logprobs: true}, expect: `"logprobs":true`},
		{name: "logprobs and top_logprobs", when: llm.Settings{Logprobs: true, TopLogprobs: ptr(3)}, expect: `"logprobs":true,"top_logprobs":3`},
		{name: "top_logprobs 0 is sent", when: llm.Settings{Logprobs: true, TopLogprobs: ptr(0)}, expect: `"logprobs":true,"top_logprobs":0`},
		{name: "response_format text", when: llm.Settings{ResponseFormat: &llm.ResponseFormat{Type: llm.FormatText}}, expect: `"response_format":{"type":"text"}`},
		{name: "response_format json_object", when: llm.Settings{ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONObject}}, expect: `"response_format":{"type":"json_object"}`},
		{
			name: "response_format json_schema",
			when: llm.Settings{ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "person", Description: "A person.",
				Schema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"],"additionalProperties":false}`), Strict: ptr(true)}},
			expect: `"response_format":{"type":"json_schema","json_schema":{"name":"person","description":"A person.",` +
				`"schema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"],"additionalProperties":false},"strict":true}}`,
		},
		{
			name:   "response_format json_schema, strict false, no description",
			when:   llm.Settings{ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "n", Schema: json.RawMessage(`{}`), Strict: ptr(false)}},
			expect: `"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{},"strict":false}}`,
		},
		{
			name: "tools",
			when: llm.Settings{Tools: []llm.Tool{weather, {Name: "now"}}},
			expect: `"tools":[{"type":"function","function":{"name":"get_weather","description":"The weather in a city.",` +
				`"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}},` +
				`{"type":"function","function":{"name":"now"}}]`,
		},
		{name: "tool_choice auto", when: llm.Settings{Tools: []llm.Tool{{Name: "now"}}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceAuto}},
			expect: `"tools":[{"type":"function","function":{"name":"now"}}],"tool_choice":"auto"`},
		{name: "tool_choice none", when: llm.Settings{Tools: []llm.Tool{{Name: "now"}}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceNone}},
			expect: `"tools":[{"type":"function","function":{"name":"now"}}],"tool_choice":"none"`},
		{name: "tool_choice required", when: llm.Settings{Tools: []llm.Tool{{Name: "now"}}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceRequired}},
			expect: `"tools":[{"type":"function","function":{"name":"now"}}],"tool_choice":"required"`},
		{name: "tool_choice a function", when: llm.Settings{Tools: []llm.Tool{{Name: "now"}}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "now"}},
			expect: `"tools":[{"type":"function","function":{"name":"now"}}],"tool_choice":{"type":"function","function":{"name":"now"}}`},
		{name: "parallel_tool_calls false is sent", when: llm.Settings{Tools: []llm.Tool{{Name: "now"}}, ParallelToolCalls: ptr(false)},
			expect: `"tools":[{"type":"function","function":{"name":"now"}}],"parallel_tool_calls":false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := llmtest.NewOpenAIServer(t, llmtest.Answer("a"))
			p := newProvider(t, openai.Config{BaseURL: s.URL, Model: "gpt-test", HTTPClient: s.Client(), MaxCompletionTokens: tc.givenMaxCT})
			req := llm.Prompt("x")
			req.MaxTokens, req.Settings = tc.whenTokens, tc.when
			if err := llm.Check(p, req); err != nil {
				t.Fatalf("Check = %v", err)
			}
			st, err := p.Stream(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if r := providertest.Drain(t, st); r.Err != nil {
				t.Fatal(r.Err)
			}
			expectBody(t, s, "{"+head+","+tc.expect+"}")
		})
	}
}

// expectBody fails the test unless the one request s received had body
// want, compared as JSON values.
func expectBody(t *testing.T, s *llmtest.Server, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%v in %s", err, want)
	}
	if got := providertest.SentJSON(t, s); !reflect.DeepEqual(got, w) {
		t.Fatalf("body\n%s\nwant\n%s", s.Requests()[0].Body, want)
	}
}

// TestToolMessagesBody checks a tool-use conversation: the assistant's
// calls and the tool results go out as OpenAI writes them.
func TestToolMessagesBody(t *testing.T) {
	s := llmtest.NewOpenAIServer(t, llmtest.Answer("Sunny."))
	p := newProvider(t, openai.Config{BaseURL: s.URL, Model: "gpt-test", HTTPClient: s.Client()})
	req := llm.Request{Messages: []llm.Message{
		{Role: llm.RoleUser, Content: "Weather in Paris and the time?", Name: "ann"},
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
			{ID: "call_a", Name: "get_weather", Arguments: `{"city":"Paris"}`},
			{ID: "call_b", Name: "now", Arguments: `{}`},
		}},
		{Role: llm.RoleTool, ToolCallID: "call_a", Name: "get_weather", Content: `{"sky":"sunny"}`},
		{Role: llm.RoleTool, ToolCallID: "call_b", Content: "12:00"},
		{Role: llm.RoleAssistant, Content: "Let me check once more.", ToolCalls: []llm.ToolCall{{ID: "call_c", Name: "now", Arguments: `{}`}}},
		{Role: llm.RoleTool, ToolCallID: "call_c", Content: ""},
	}}
	if err := llm.Check(p, req); err != nil {
		t.Fatal(err)
	}
	st, err := p.Stream(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if r := providertest.Drain(t, st); r.Err != nil || r.Text != "Sunny." {
		t.Fatalf("got %+v", r)
	}
	expectBody(t, s, `{"messages":[`+
		`{"content":"Weather in Paris and the time?","role":"user","name":"ann"},`+
		`{"content":null,"role":"assistant","tool_calls":[`+
		`{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},`+
		`{"id":"call_b","type":"function","function":{"name":"now","arguments":"{}"}}]},`+
		`{"content":"{\"sky\":\"sunny\"}","role":"tool","tool_call_id":"call_a"},`+
		`{"content":"12:00","role":"tool","tool_call_id":"call_b"},`+
		`{"content":"Let me check once more.","role":"assistant","tool_calls":[{"id":"call_c","type":"function","function":{"name":"now","arguments":"{}"}}]},`+
		`{"content":"","role":"tool","tool_call_id":"call_c"}],`+
		`"model":"gpt-test","stream_options":{"include_usage":true},"stream":true}`)
}

// TestCapabilities checks that the provider declares every field but
// top_k, and refuses top_k even when Check was skipped.
func TestCapabilities(t *testing.T) {
	s := llmtest.NewOpenAIServer(t, llmtest.Answer("a"))
	p := newProvider(t, openai.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	caps := llm.CapabilitiesOf(p)
	for _, f := range llm.AllFields {
		if caps[f] != (f != llm.FieldTopK) {
			t.Errorf("capability %s = %v", f, caps[f])
		}
	}
	caps[llm.FieldTopK] = true // a copy: the provider's own stays
	req := llm.Prompt("x")
	req.Settings.TopK = ptr(40)
	var ue *llm.UnsupportedError
	if err := llm.Check(p, req); !errors.As(err, &ue) || ue.Field != llm.FieldTopK || ue.Provider != "openai" {
		t.Fatalf("Check = %v, want top_k unsupported", err)
	}
	if _, err := p.Stream(t.Context(), req); !errors.As(err, &ue) || !errors.Is(err, llm.ErrUnsupported) || ue.Field != llm.FieldTopK {
		t.Fatalf("Stream = %v, want top_k unsupported", err)
	}
	if s.Count() != 0 {
		t.Fatalf("%d requests sent", s.Count())
	}
}
