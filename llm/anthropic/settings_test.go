package anthropic_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
)

func ptr[T any](v T) *T { return &v }

// sent returns the body the server received, canonical (keys sorted).
func sent(t *testing.T, s *llmtest.Server) string {
	t.Helper()
	b, err := json.Marshal(providertest.SentJSON(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withBase returns the canonical body of a one-message request with the
// default model and cap, overridden and extended by extra (a JSON object).
func withBase(t *testing.T, extra string) string {
	t.Helper()
	body := map[string]any{
		"max_tokens": float64(anthropic.DefaultMaxTokens),
		"messages":   []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": "x"}}}},
		"model":      "claude-test",
		"stream":     true,
	}
	var more map[string]any
	if err := json.Unmarshal([]byte(extra), &more); err != nil {
		t.Fatal(err)
	}
	maps.Copy(body, more)
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const weather = `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`

func TestSettingsBody(t *testing.T) {
	tools := []llm.Tool{
		{Name: "get_weather", Description: "Weather of a city.", Parameters: json.RawMessage(weather), Strict: ptr(true)},
		{Name: "now"},
	}
	const toolsJSON = `"tools":[{"name":"get_weather","description":"Weather of a city.","input_schema":` + weather + `,"strict":true},` +
		`{"name":"now","input_schema":{"type":"object","properties":{}}}]`
	for _, tc := range []struct {
		name      string
		maxTokens int
		settings  llm.Settings
		want      string // fields added to, or replacing, the base body
	}{
		{"nothing set", 0, llm.Settings{}, `{}`},
		{"max_tokens", 77, llm.Settings{MaxTokensField: llm.FieldMaxTokens}, `{"max_tokens":77}`},
		{"max_completion_tokens", 77, llm.Settings{MaxTokensField: llm.FieldMaxCompletionTokens}, `{"max_tokens":77}`},
		{"max_output_tokens", 77, llm.Settings{MaxTokensField: llm.FieldMaxOutputTokens}, `{"max_tokens":77}`},
		{"stop", 0, llm.Settings{Stop: []string{"\n\n", "END"}}, `{"stop_sequences":["\n\n","END"]}`},
		{"user", 0, llm.Settings{User: "user-42"}, `{"metadata":{"user_id":"user-42"}}`},
		{"tools", 0, llm.Settings{Tools: tools}, `{` + toolsJSON + `}`},
		{"tool_choice auto", 0, llm.Settings{Tools: tools, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceAuto}},
			`{` + toolsJSON + `,"tool_choice":{"type":"auto"}}`},
		{"tool_choice required", 0, llm.Settings{Tools: tools, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceRequired}},
			`{` + toolsJSON + `,"tool_choice":{"type":"any"}}`},
		{"tool_choice function", 0, llm.Settings{Tools: tools, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "now"}},
			`{` + toolsJSON + `,"tool_choice":{"type":"tool","name":"now"}}`},
		{"tool_choice none", 0, llm.Settings{Tools: tools, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceNone}},
			`{` + toolsJSON + `,"tool_choice":{"type":"none"}}`},
		{"parallel_tool_calls false", 0, llm.Settings{Tools: tools, ParallelToolCalls: ptr(false)},
			`{` + toolsJSON + `,"tool_choice":{"type":"auto","disable_parallel_tool_use":true}}`},
		{"parallel_tool_calls true", 0, llm.Settings{Tools: tools, ParallelToolCalls: ptr(true)},
			`{` + toolsJSON + `,"tool_choice":{"type":"auto","disable_parallel_tool_use":false}}`},
		{"parallel_tool_calls false, required", 0, llm.Settings{Tools: tools, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceRequired}, ParallelToolCalls: ptr(false)},
			`{` + toolsJSON + `,"tool_choice":{"type":"any","disable_parallel_tool_use":true}}`},
		{"parallel_tool_calls false, function", 0, llm.Settings{Tools: tools, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "now"}, ParallelToolCalls: ptr(false)},
			`{` + toolsJSON + `,"tool_choice":{"type":"tool","name":"now","disable_parallel_tool_use":true}}`},
		{"parallel_tool_calls false, none", 0, llm.Settings{Tools: tools, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceNone}, ParallelToolCalls: ptr(false)},
			`{` + toolsJSON + `,"tool_choice":{"type":"none"}}`},
		{"reasoning_effort minimal", 0, llm.Settings{ReasoningEffort: "minimal"},
			`{"max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024}}`},
		{"reasoning_effort low", 0, llm.Settings{ReasoningEffort: "low"},
			`{"max_tokens":5120,"thinking":{"type":"enabled","budget_tokens":4096}}`},
		{"reasoning_effort medium", 0, llm.Settings{ReasoningEffort: "medium"},
			`{"max_tokens":9216,"thinking":{"type":"enabled","budget_tokens":8192}}`},
		{"reasoning_effort high", 0, llm.Settings{ReasoningEffort: "high"},
			`{"max_tokens":17408,"thinking":{"type":"enabled","budget_tokens":16384}}`},
		{"reasoning_effort high under a large cap", 40000, llm.Settings{ReasoningEffort: "high", MaxTokensField: llm.FieldMaxCompletionTokens},
			`{"max_tokens":40000,"thinking":{"type":"enabled","budget_tokens":16384}}`},
		{"reasoning_effort high under a small cap", 3000, llm.Settings{ReasoningEffort: "high"},
			`{"max_tokens":3000,"thinking":{"type":"enabled","budget_tokens":2999}}`},
		{"reasoning_effort none", 0, llm.Settings{ReasoningEffort: "none"}, `{"thinking":{"type":"disabled"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := llmtest.NewAnthropicServer(t, llmtest.Answer("a"))
			p := newProvider(t, anthropic.Config{BaseURL: s.URL, Model: "claude-test", HTTPClient: s.Client()})
			req := llm.Prompt("x")
			req.MaxTokens, req.Settings = tc.maxTokens, tc.settings
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
			if got, want := sent(t, s), withBase(t, tc.want); got != want {
				t.Fatalf("body\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestRefusedSettings(t *testing.T) {
	p := newProvider(t, anthropic.Config{})
	for _, tc := range []struct {
		field llm.Field
		set   llm.Settings
	}{
		{llm.FieldTemperature, llm.Settings{Temperature: ptr(0.0)}},
		{llm.FieldTopP, llm.Settings{TopP: ptr(0.9)}},
		{llm.FieldTopK, llm.Settings{TopK: ptr(40)}},
		{llm.FieldSeed, llm.Settings{Seed: ptr(int64(7))}},
		{llm.FieldPresencePenalty, llm.Settings{PresencePenalty: ptr(0.5)}},
		{llm.FieldFrequencyPenalty, llm.Settings{FrequencyPenalty: ptr(0.5)}},
		{llm.FieldLogitBias, llm.Settings{LogitBias: map[string]float64{"42": -100}}},
		{llm.FieldLogprobs, llm.Settings{Logprobs: true}},
		{llm.FieldTopLogprobs, llm.Settings{TopLogprobs: ptr(3)}},
		{llm.FieldResponseFormat, llm.Settings{ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONObject}}},
		{llm.FieldResponseFormat, llm.Settings{ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Schema: json.RawMessage(weather)}}},
		{llm.FieldServiceTier, llm.Settings{ServiceTier: "auto"}},
	} {
		req := llm.Prompt("x")
		req.Settings = tc.set
		var ue *llm.UnsupportedError
		err := llm.Check(p, req)
		if !errors.As(err, &ue) || ue.Field != tc.field || ue.Provider != "anthropic" || !errors.Is(err, llm.ErrUnsupported) {
			t.Errorf("Check(%s) = %v, want an UnsupportedError naming it", tc.field, err)
		}
	}
	// Every field is either honoured or refused, and the refused ones are
	// exactly those above.
	caps := p.Capabilities()
	for _, f := range llm.AllFields {
		_, known := caps[f]
		if known != caps[f] {
			t.Errorf("capability %s listed as false", f)
		}
	}
	if len(caps)+11 != len(llm.AllFields) {
		t.Errorf("%d capabilities of %d fields, want all but the 11 refused", len(caps), len(llm.AllFields))
	}
}

func TestReasoningEffortThatCannotFit(t *testing.T) {
	s := llmtest.NewAnthropicServer(t, llmtest.Answer("a"))
	p := newProvider(t, anthropic.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	for _, tc := range []struct {
		max    int
		effort string
		want   string
	}{
		{1024, "low", "token cap above 1024"},
		{100, "minimal", "token cap above 1024"},
		{0, "extreme", `unknown reasoning_effort "extreme"`},
	} {
		req := llm.Prompt("x")
		req.MaxTokens, req.Settings.ReasoningEffort = tc.max, tc.effort
		// Refused at submit (llm.Check), and by Stream for callers that
		// did not check.
		if err := llm.Check(p, req); !errors.Is(err, llm.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(max %d, %s) = %v, want ErrInvalidRequest saying %q", tc.max, tc.effort, err, tc.want)
		}
		_, err := p.Stream(t.Context(), req)
		if !errors.Is(err, llm.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Stream(max %d, %s) = %v, want ErrInvalidRequest saying %q", tc.max, tc.effort, err, tc.want)
		}
	}
	if n := s.Count(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}
