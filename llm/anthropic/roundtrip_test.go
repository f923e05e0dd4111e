package anthropic_test

import (
	"encoding/json"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
)

// calls assembles the tool calls a stream's deltas describe, as a client
// does.
func calls(t *testing.T, r providertest.Result) []llm.ToolCall {
	t.Helper()
	var out []llm.ToolCall
	for _, c := range r.Chunks {
		for _, d := range c.ToolCalls {
			switch {
			case d.Index == len(out):
				out = append(out, llm.ToolCall{ID: d.ID, Name: d.Name})
			case d.Index != len(out)-1 || d.ID != "" || d.Name != "":
				t.Fatalf("delta %+v out of order after %d calls", d, len(out))
			}
			out[d.Index].Arguments += d.Arguments
		}
	}
	return out
}

func TestToolRoundTrip(t *testing.T) {
	usage := llm.Usage{PromptTokens: 20, CompletionTokens: 10}
	s := llmtest.NewAnthropicServer(t,
		llmtest.AnthropicAnswer("tool_use", usage,
			llmtest.AnthropicText("Checking."),
			llmtest.AnthropicToolUse("toolu_01A", "get_weather", `{"city"`, `: "Paris"}`)),
		llmtest.AnthropicAnswer("end_turn", usage, llmtest.AnthropicText("It is 18°C", " in Paris.")),
	)
	p := newProvider(t, anthropic.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	settings := llm.Settings{
		Tools:      []llm.Tool{{Name: "get_weather", Parameters: json.RawMessage(weather)}},
		ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceAuto},
	}
	msgs := []llm.Message{{Role: llm.RoleUser, Content: "Weather in Paris?"}}

	// Turn 1: the model asks for the tool.
	req := llm.Request{Messages: msgs, Settings: settings}
	if err := llm.Check(p, req); err != nil {
		t.Fatal(err)
	}
	st, err := p.Stream(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	r := providertest.Drain(t, st)
	if r.Err != nil || r.Finish != llm.FinishToolCalls || r.Text != "Checking." {
		t.Fatalf("turn 1: %q, %q, %v", r.Text, r.Finish, r.Err)
	}
	got := calls(t, r)
	want := []llm.ToolCall{{ID: "toolu_01A", Name: "get_weather", Arguments: `{"city": "Paris"}`}}
	if len(got) != 1 || got[0] != want[0] {
		t.Fatalf("calls %+v, want %+v", got, want)
	}

	// Turn 2: the client runs it and sends the result back.
	msgs = append(msgs,
		llm.Message{Role: llm.RoleAssistant, Content: r.Text, ToolCalls: got},
		llm.Message{Role: llm.RoleTool, ToolCallID: got[0].ID, Content: `{"celsius":18}`})
	req = llm.Request{Messages: msgs, Settings: settings}
	if err := llm.Check(p, req); err != nil {
		t.Fatal(err)
	}
	st, err = p.Stream(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	r = providertest.Drain(t, st)
	if r.Err != nil || r.Finish != llm.FinishStop || r.Text != "It is 18°C in Paris." {
		t.Fatalf("turn 2: %q, %q, %v", r.Text, r.Finish, r.Err)
	}

	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	var body struct {
		Messages   json.RawMessage `json:"messages"`
		Tools      json.RawMessage `json:"tools"`
		ToolChoice json.RawMessage `json:"tool_choice"`
	}
	if err := json.Unmarshal(reqs[1].Body, &body); err != nil {
		t.Fatal(err)
	}
	const wantMsgs = `[{"content":[{"text":"Weather in Paris?","type":"text"}],"role":"user"},` +
		`{"content":[{"text":"Checking.","type":"text"},{"id":"toolu_01A","input":{"city":"Paris"},"name":"get_weather","type":"tool_use"}],"role":"assistant"},` +
		`{"content":[{"tool_use_id":"toolu_01A","content":[{"text":"{\"celsius\":18}","type":"text"}],"type":"tool_result"}],"role":"user"}]`
	if string(body.Messages) != wantMsgs {
		t.Fatalf("turn 2 messages\n%s\nwant\n%s", body.Messages, wantMsgs)
	}
	if string(body.Tools) != `[{"input_schema":`+weather+`,"name":"get_weather"}]` || string(body.ToolChoice) != `{"type":"auto"}` {
		t.Fatalf("turn 2 tools %s, tool_choice %s", body.Tools, body.ToolChoice)
	}
}
