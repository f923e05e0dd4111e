package anthropic_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
)

// content is what a stream's chunks carried, apart from usage.
type content struct {
	Text, Reasoning string
	ToolCalls       []llm.ToolCallDelta
	Finish          llm.FinishReason
}

func collect(r providertest.Result) content {
	var c content
	for _, ch := range r.Chunks {
		c.Text += ch.Text
		c.Reasoning += ch.Reasoning
		c.ToolCalls = append(c.ToolCalls, ch.ToolCalls...)
	}
	c.Finish = r.Finish
	return c
}

func TestStreamBlocks(t *testing.T) {
	usage := llm.Usage{PromptTokens: 12, CompletionTokens: 34}
	for _, tc := range []struct {
		name   string
		script llmtest.Script
		want   content
	}{
		{"tool_use with its input split across events", llmtest.AnthropicAnswer("tool_use", usage,
			llmtest.AnthropicText("Let me check."),
			llmtest.AnthropicToolUse("toolu_1", "get_weather", `{"ci`, `ty": "Par`, `is"}`)),
			content{Text: "Let me check.", ToolCalls: []llm.ToolCallDelta{
				{Index: 0, ID: "toolu_1", Name: "get_weather"},
				{Index: 0, Arguments: `{"ci`}, {Index: 0, Arguments: `ty": "Par`}, {Index: 0, Arguments: `is"}`},
			}, Finish: llm.FinishToolCalls}},
		{"thinking, then the answer", llmtest.AnthropicAnswer("end_turn", usage,
			llmtest.AnthropicThinking("The user", " wants 42."),
			llmtest.AnthropicText("4", "2")),
			content{Reasoning: "The user wants 42.", Text: "42", Finish: llm.FinishStop}},
		{"several tool calls after thinking", llmtest.AnthropicAnswer("tool_use", usage,
			llmtest.AnthropicThinking("Two lookups."),
			llmtest.AnthropicToolUse("toolu_a", "get_weather", `{"city":"Paris"}`),
			llmtest.AnthropicToolUse("toolu_b", "get_weather", `{"city":`, `"Rome"}`),
			llmtest.AnthropicToolUse("toolu_c", "now")),
			content{Reasoning: "Two lookups.", ToolCalls: []llm.ToolCallDelta{
				{Index: 0, ID: "toolu_a", Name: "get_weather"}, {Index: 0, Arguments: `{"city":"Paris"}`},
				{Index: 1, ID: "toolu_b", Name: "get_weather"}, {Index: 1, Arguments: `{"city":`}, {Index: 1, Arguments: `"Rome"}`},
				{Index: 2, ID: "toolu_c", Name: "now"},
			}, Finish: llm.FinishToolCalls}},
		{"a tool input given whole at the block's start", llmtest.Replay(
			"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"x\",\"content\":[],\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n" +
				"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{\"a\":1}}}\n\n" +
				"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":34}}\n\n" +
				"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
			content{ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "toolu_1", Name: "f", Arguments: `{"a":1}`}}, Finish: llm.FinishToolCalls}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := llmtest.NewAnthropicServer(t, tc.script)
			p := newProvider(t, anthropic.Config{BaseURL: s.URL, HTTPClient: s.Client()})
			st, err := p.Stream(t.Context(), llm.Prompt("x"))
			if err != nil {
				t.Fatal(err)
			}
			r := providertest.Drain(t, st)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if got := collect(r); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			if r.Usage == nil || *r.Usage != usage {
				t.Fatalf("usage %+v, want %+v", r.Usage, usage)
			}
		})
	}
}

func TestStreamErrorEvent(t *testing.T) {
	s := llmtest.NewAnthropicServer(t, llmtest.ErrorAfter("Overloaded "+providertest.Secret, "Hi"))
	p := newProvider(t, anthropic.Config{BaseURL: s.URL, APIKey: providertest.Secret, HTTPClient: s.Client()})
	st, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	r := providertest.Drain(t, st)
	var se *llm.StreamError
	if !errors.As(r.Err, &se) || se.Type != "overloaded_error" || se.Message != "Overloaded [redacted]" || !errors.Is(r.Err, llm.ErrUpstream) {
		t.Fatalf("err %v (%+v), want a StreamError of type overloaded_error, key redacted", r.Err, se)
	}
}
