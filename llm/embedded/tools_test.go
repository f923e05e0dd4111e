package embedded_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
)

var (
	weatherTool = llm.Tool{
		Name:        "get_weather",
		Description: "The weather in a city",
		Parameters: json.RawMessage(`{"type":"object","properties":{
			"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},
			"required":["city","unit"],"additionalProperties":false}`),
	}
	timeTool = llm.Tool{
		Name:       "get-time",
		Parameters: json.RawMessage(`{"type":"object","properties":{"zone":{"type":"string","format":"uuid"}},"required":["zone"]}`),
	}
	noArgsTool = llm.Tool{Name: "roll_dice"}
	tools      = []llm.Tool{weatherTool, timeTool, noArgsTool}
)

// call is one tool call put together from its deltas.
type call struct {
	id, name, args string
	pieces         int
}

var callID = regexp.MustCompile(`^call_[0-9a-f]{16}$`)

// assemble checks the deltas' shape (the first of each call carries its
// index, id and name and no arguments; the rest carry only arguments; the
// indexes count up from 0) and puts the calls together.
func assemble(t *testing.T, deltas []llm.ToolCallDelta) []call {
	t.Helper()
	var calls []call
	for _, d := range deltas {
		if d.ID != "" {
			if d.Index != len(calls) || d.Name == "" || d.Arguments != "" || !callID.MatchString(d.ID) {
				t.Fatalf("first delta of call %d: %+v", len(calls), d)
			}
			calls = append(calls, call{id: d.ID, name: d.Name})
			continue
		}
		if len(calls) == 0 || d.Index != len(calls)-1 || d.Name != "" || d.Arguments == "" {
			t.Fatalf("argument delta %+v after %d calls", d, len(calls))
		}
		calls[len(calls)-1].args += d.Arguments
		calls[len(calls)-1].pieces++
	}
	return calls
}

func toolRequest(prompt string, choice *llm.ToolChoice, parallel *bool) llm.Request {
	req := llm.Prompt(prompt)
	req.Settings.Tools = tools
	req.Settings.ToolChoice = choice
	req.Settings.ParallelToolCalls = parallel
	return req
}

func TestToolCalls(t *testing.T) {
	p := unpaced(t, 16)
	required := &llm.ToolChoice{Mode: llm.ToolChoiceRequired}
	for _, tc := range []struct {
		name  string
		req   llm.Request
		calls []string // the functions called; none: a text answer
	}{
		{"named", toolRequest("hello", &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "get-time"}, nil), []string{"get-time"}},
		{"named without arguments", toolRequest("hello", &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "roll_dice"}, nil), []string{"roll_dice"}},
		{"required, nothing mentioned", toolRequest("hello", required, nil), []string{"get_weather"}},
		{"required, one mentioned", toolRequest("please ROLL DICE", required, nil), []string{"roll_dice"}},
		{"auto mentions two", toolRequest("Call get_weather and get time.", &llm.ToolChoice{Mode: llm.ToolChoiceAuto}, nil), []string{"get_weather", "get-time"}},
		{"no choice is auto", toolRequest("use get-time then roll_dice", nil, nil), []string{"get-time", "roll_dice"}},
		{"parallel allowed", toolRequest("get weather, get time", nil, ptr(true)), []string{"get_weather", "get-time"}},
		{"parallel off", toolRequest("get weather, get time", nil, ptr(false)), []string{"get_weather"}},
		{"auto, nothing mentioned", toolRequest("Tell me a story.", nil, nil), nil},
		{"none", toolRequest("get weather", &llm.ToolChoice{Mode: llm.ToolChoiceNone}, nil), nil},
		{"only the last user message counts", func() llm.Request {
			r := toolRequest("thanks", nil, nil)
			r.Messages = append([]llm.Message{{Role: llm.RoleUser, Content: "get weather"}, {Role: llm.RoleAssistant, Content: "ok"}}, r.Messages...)
			return r
		}(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := collect(t, p, tc.req)
			if tc.calls == nil {
				if len(a.calls) > 0 || a.text == "" || a.final.FinishReason != llm.FinishStop {
					t.Fatalf("want a text answer, got %q, calls %+v, %s", a.text, a.calls, a.final.FinishReason)
				}
				return
			}
			if a.text != "" || a.final.FinishReason != llm.FinishToolCalls {
				t.Fatalf("text %q, finish %s; want tool calls only", a.text, a.final.FinishReason)
			}
			calls := assemble(t, a.calls)
			var names []string
			ids := map[string]bool{}
			for _, c := range calls {
				names = append(names, c.name)
				ids[c.id] = true
				var tool llm.Tool
				for _, tt := range tools {
					if tt.Name == c.name {
						tool = tt
					}
				}
				schema := tool.Parameters
				if schema == nil {
					schema = json.RawMessage(`{"type":"object","additionalProperties":false}`)
				}
				if err := validate(schema, []byte(c.args)); err != nil {
					t.Fatalf("%s(%s): %v", c.name, c.args, err)
				}
				if c.pieces < 2 {
					t.Errorf("%s: arguments %q in %d piece", c.name, c.args, c.pieces)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.calls, ",") {
				t.Fatalf("calls %v, want %v", names, tc.calls)
			}
			if len(ids) != len(calls) {
				t.Fatalf("ids repeat: %+v", calls)
			}
			if got := a.final.Usage.CompletionTokens; got != len(a.calls) {
				t.Errorf("usage %d, want %d (one per delta)", got, len(a.calls))
			}
			// Deterministic, and the seed changes the arguments.
			again := assemble(t, collect(t, p, tc.req).calls)
			if again[0] != calls[0] {
				t.Fatalf("not deterministic: %+v then %+v", calls[0], again[0])
			}
		})
	}
}

func TestToolCallSeed(t *testing.T) {
	p := unpaced(t, 16)
	args := map[string]bool{}
	for _, seed := range []int64{1, 2, 3} {
		req := toolRequest("get weather", nil, nil)
		req.Settings.Seed = ptr(seed)
		args[assemble(t, collect(t, p, req).calls)[0].args] = true
	}
	if len(args) != 3 {
		t.Fatalf("seeds 1-3 gave %d different arguments", len(args))
	}
}

func TestToolCallCap(t *testing.T) {
	p := unpaced(t, 16)
	req := toolRequest("get weather", nil, nil)
	req.MaxTokens = 3
	a := collect(t, p, req)
	if len(a.calls) != 3 || a.final.FinishReason != llm.FinishLength {
		t.Fatalf("%d deltas, %s; want 3, length", len(a.calls), a.final.FinishReason)
	}
}

func TestToolResultAnswer(t *testing.T) {
	p := unpaced(t, 16)
	first := toolRequest("What is the weather in Paris? Use get_weather and get time.", nil, nil)
	calls := assemble(t, collect(t, p, first).calls)
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	req := first
	var asked []llm.ToolCall
	for _, c := range calls {
		asked = append(asked, llm.ToolCall{ID: c.id, Name: c.name, Arguments: c.args})
	}
	req.Messages = append(req.Messages,
		llm.Message{Role: llm.RoleAssistant, ToolCalls: asked},
		llm.Message{Role: llm.RoleTool, ToolCallID: calls[0].id, Content: `{"temperature": 21, "sky": "clear"}`},
		llm.Message{Role: llm.RoleTool, ToolCallID: calls[1].id, Name: "clock", Content: "12:00"},
	)
	if err := llm.Check(p, req); err != nil {
		t.Fatalf("Check: %v", err)
	}
	// Even with tool_choice required: the results are answered, not
	// called for again.
	for _, choice := range []*llm.ToolChoice{nil, {Mode: llm.ToolChoiceRequired}} {
		req.Settings.ToolChoice = choice
		a := collect(t, p, req)
		want := `The get_weather tool returned: {"temperature": 21, "sky": "clear"} The clock tool returned: 12:00 `
		if len(a.calls) > 0 || a.final.FinishReason != llm.FinishStop || !strings.HasPrefix(a.text, want) {
			t.Fatalf("%q, calls %+v, %s; want text starting %q", a.text, a.calls, a.final.FinishReason, want)
		}
		if n := len(strings.Fields(a.text)); n != 16 {
			t.Errorf("%d words, want Config.Tokens (16)", n)
		}
	}
	// A result longer than Config.Tokens is quoted whole.
	req.Messages[len(req.Messages)-1].Content = strings.Repeat("word ", 30)
	if a := collect(t, p, req); !strings.Contains(a.text, strings.TrimSpace(strings.Repeat("word ", 30))) {
		t.Fatalf("long result cut: %q", a.text)
	}
}
