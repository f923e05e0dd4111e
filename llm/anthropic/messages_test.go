package anthropic_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
)

func TestToolTurns(t *testing.T) {
	for _, tc := range []struct {
		name string
		msgs []llm.Message
		want string // the messages array sent
	}{
		{"a call and its result", []llm.Message{
			{Role: llm.RoleUser, Content: "Weather in Paris?"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "toolu_1", Name: "get_weather", Arguments: `{"city": "Paris"}`}}},
			{Role: llm.RoleTool, ToolCallID: "toolu_1", Name: "get_weather", Content: "18°C"},
		}, `[{"content":[{"text":"Weather in Paris?","type":"text"}],"role":"user"},` +
			`{"content":[{"id":"toolu_1","input":{"city":"Paris"},"name":"get_weather","type":"tool_use"}],"role":"assistant"},` +
			`{"content":[{"content":[{"text":"18°C","type":"text"}],"tool_use_id":"toolu_1","type":"tool_result"}],"role":"user"}]`},
		{"text, two calls, two results merged, then the user", []llm.Message{
			{Role: llm.RoleUser, Content: "Compare"},
			{Role: llm.RoleAssistant, Content: "Looking.", ToolCalls: []llm.ToolCall{
				{ID: "toolu_1", Name: "get_weather", Arguments: `{"city":"Paris"}`},
				{ID: "toolu_2", Name: "now", Arguments: ""},
			}},
			{Role: llm.RoleTool, ToolCallID: "toolu_1", Content: "18°C"},
			{Role: llm.RoleSystem, Content: "Be brief."},
			{Role: llm.RoleTool, ToolCallID: "toolu_2"},
			{Role: llm.RoleUser, Content: "And?"},
		}, `[{"content":[{"text":"Compare","type":"text"}],"role":"user"},` +
			`{"content":[{"text":"Looking.","type":"text"},{"id":"toolu_1","input":{"city":"Paris"},"name":"get_weather","type":"tool_use"},{"id":"toolu_2","input":{},"name":"now","type":"tool_use"}],"role":"assistant"},` +
			`{"content":[{"content":[{"text":"18°C","type":"text"}],"tool_use_id":"toolu_1","type":"tool_result"},{"tool_use_id":"toolu_2","type":"tool_result"}],"role":"user"},` +
			`{"content":[{"text":"And?","type":"text"}],"role":"user"}]`},
		{"results of two turns stay apart", []llm.Message{
			{Role: llm.RoleUser, Content: "Go"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "a", Name: "f", Arguments: `[1]`}}},
			{Role: llm.RoleTool, ToolCallID: "a", Content: "1"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "b", Name: "f", Arguments: `{}`}}},
			{Role: llm.RoleTool, ToolCallID: "b", Content: "2"},
		}, `[{"content":[{"text":"Go","type":"text"}],"role":"user"},` +
			`{"content":[{"id":"a","input":[1],"name":"f","type":"tool_use"}],"role":"assistant"},` +
			`{"content":[{"content":[{"text":"1","type":"text"}],"tool_use_id":"a","type":"tool_result"}],"role":"user"},` +
			`{"content":[{"id":"b","input":{},"name":"f","type":"tool_use"}],"role":"assistant"},` +
			`{"content":[{"content":[{"text":"2","type":"text"}],"tool_use_id":"b","type":"tool_result"}],"role":"user"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := llmtest.NewAnthropicServer(t, llmtest.Answer("a"))
			p := newProvider(t, anthropic.Config{BaseURL: s.URL, HTTPClient: s.Client()})
			req := llm.Request{Messages: tc.msgs}
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
			got, _ := json.Marshal(providertest.SentJSON(t, s)["messages"])
			if string(got) != tc.want {
				t.Fatalf("messages\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestInvalidToolTurns(t *testing.T) {
	s := llmtest.NewAnthropicServer(t, llmtest.Answer("a"))
	p := newProvider(t, anthropic.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	user := llm.Message{Role: llm.RoleUser, Content: "x"}
	for _, tc := range []struct {
		msg  llm.Message
		want string
	}{
		{llm.Message{Role: llm.RoleTool, Content: "1"}, "no tool_call_id"},
		{llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "a", Name: "f", Arguments: "{"}}}, "arguments is not JSON"},
		{llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{Name: "f"}}}, "needs an id and a name"},
		{llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "a"}}}, "needs an id and a name"},
	} {
		req := llm.Request{Messages: []llm.Message{user, tc.msg}}
		if err := llm.Check(p, req); !errors.Is(err, llm.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%+v) = %v, want ErrInvalidRequest saying %q", tc.msg, err, tc.want)
		}
		_, err := p.Stream(t.Context(), req)
		if !errors.Is(err, llm.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Stream(%+v) = %v, want ErrInvalidRequest saying %q", tc.msg, err, tc.want)
		}
	}
	if n := s.Count(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}
