package openaiapi

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm"
)

func ptr[T any](v T) *T { return &v }

// Every setting a client sends reaches the provider, under the field the
// provider request names it by.
func TestSettingsReachTheProvider(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)
	weather := llm.Tool{Name: "weather", Description: "Looks up the weather.", Parameters: schema, Strict: ptr(true)}
	for _, tc := range []struct {
		name, path, body string
		want             llm.Request
	}{
		{"chat sampling", "/v1/chat/completions",
			`{"messages":[{"role":"user","content":"hi"}],"temperature":0,"top_p":0.5,"presence_penalty":-1,"frequency_penalty":1.5,"seed":7,"stop":"come","user":"u1","service_tier":"flex","logit_bias":{"50256":-100}}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Settings: llm.Settings{
				Temperature: ptr(0.0), TopP: ptr(0.5), PresencePenalty: ptr(-1.0), FrequencyPenalty: ptr(1.5), Seed: ptr(int64(7)),
				Stop: []string{"come"}, User: "u1", ServiceTier: "flex", LogitBias: map[string]float64{"50256": -100}}}},
		{"chat max_completion_tokens", "/v1/chat/completions",
			`{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":9,"reasoning_effort":"low","stop":["a","b"]}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, MaxTokens: 9, Settings: llm.Settings{
				MaxTokensField: llm.FieldMaxCompletionTokens, ReasoningEffort: "low", Stop: []string{"a", "b"}}}},
		{"chat max_tokens", "/v1/chat/completions",
			`{"messages":[{"role":"user","content":"hi"}],"max_tokens":5,"logprobs":true,"top_logprobs":2,"safety_identifier":"s1"}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, MaxTokens: 5, Settings: llm.Settings{
				MaxTokensField: llm.FieldMaxTokens, Logprobs: true, TopLogprobs: ptr(2), User: "s1"}}},
		{"chat tools", "/v1/chat/completions",
			`{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"weather","description":"Looks up the weather.","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}}],"tool_choice":{"type":"function","function":{"name":"weather"}},"parallel_tool_calls":false}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Settings: llm.Settings{
				Tools: []llm.Tool{weather}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "weather"}, ParallelToolCalls: ptr(false)}}},
		{"chat json schema", "/v1/chat/completions",
			`{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}}}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Settings: llm.Settings{
				ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "w", Schema: schema, Strict: ptr(true)}}}},
		{"chat text format is the default", "/v1/chat/completions",
			`{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"text"},"tool_choice":"none","store":false,"metadata":{"a":"b"}}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Settings: llm.Settings{
				ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceNone}}}},
		{"chat tool turns", "/v1/chat/completions",
			`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":[{"type":"text","text":"cold"}]}]}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"},
				{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "weather", Arguments: `{"city":"Oslo"}`}}},
				{Role: llm.RoleTool, ToolCallID: "call_1", Content: "cold"}}}},
		{"responses settings", "/v1/responses",
			`{"input":"hi","temperature":1.2,"top_p":0.9,"max_output_tokens":30,"reasoning":{"effort":"high","summary":"auto"},"top_logprobs":3,"user":"u2","service_tier":"priority","truncation":"auto"}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, MaxTokens: 30, Settings: llm.Settings{
				Temperature: ptr(1.2), TopP: ptr(0.9), MaxTokensField: llm.FieldMaxOutputTokens, ReasoningEffort: "high",
				Logprobs: true, TopLogprobs: ptr(3), User: "u2", ServiceTier: "priority"}}},
		{"responses logprobs by include", "/v1/responses",
			`{"input":"hi","include":["message.output_text.logprobs","reasoning.encrypted_content"],"safety_identifier":"s2"}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Settings: llm.Settings{Logprobs: true, User: "s2"}}},
		{"responses tools and format", "/v1/responses",
			`{"input":"hi","tools":[{"type":"function","name":"weather","description":"Looks up the weather.","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}],"tool_choice":"required","parallel_tool_calls":true,"text":{"format":{"type":"json_schema","name":"w","schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Settings: llm.Settings{
				Tools: []llm.Tool{weather}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceRequired}, ParallelToolCalls: ptr(true),
				ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "w", Schema: schema}}}},
		{"responses named tool choice", "/v1/responses",
			`{"input":"hi","tools":[{"type":"function","name":"weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"description":"Looks up the weather.","strict":true}],"tool_choice":{"type":"function","name":"weather"},"text":{"format":{"type":"json_object"}}}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Settings: llm.Settings{
				Tools: []llm.Tool{weather}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "weather"},
				ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONObject}}}},
		{"responses tool items", "/v1/responses",
			`{"instructions":"be nice","input":[{"role":"user","content":"hi"},{"type":"function_call","call_id":"call_1","name":"weather","arguments":"{}"},{"type":"function_call","call_id":"call_2","name":"weather","arguments":"{\"city\":\"Rome\"}"},{"type":"function_call_output","call_id":"call_1","output":"cold"},{"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"hot"}]}]}`,
			llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "be nice"}, {Role: llm.RoleUser, Content: "hi"},
				{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "weather", Arguments: "{}"}, {ID: "call_2", Name: "weather", Arguments: `{"city":"Rome"}`}}},
				{Role: llm.RoleTool, ToolCallID: "call_1", Content: "cold"}, {Role: llm.RoleTool, ToolCallID: "call_2", Content: "hot"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.start("POST", tc.path, tc.body, keyA)
			s := e.script()
			got := s.Request()
			s.Finish(llm.FinishStop, nil)
			if r := wait(t, res); r.err != nil || r.status != 200 {
				t.Fatalf("answer %d %v %s", r.status, r.err, r.body)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("provider got\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestSettingRefusedByTheParser(t *testing.T) {
	e := newEnv(t)
	chat := func(extra string) string { return `{"messages":[{"role":"user","content":"hi"}],` + extra + `}` }
	for _, tc := range []struct {
		name, path, body, code, param string
	}{
		{"temperature out of range", "/v1/chat/completions", chat(`"temperature":3`), CodeInvalidValue, "temperature"},
		{"top_p out of range", "/v1/responses", `{"input":"hi","top_p":1.5}`, CodeInvalidValue, "top_p"},
		{"too many stops", "/v1/chat/completions", chat(`"stop":["a","b","c","d","e"]`), CodeInvalidValue, "stop"},
		{"stop of numbers", "/v1/chat/completions", chat(`"stop":[1]`), CodeInvalidType, "stop"},
		{"logit bias out of range", "/v1/chat/completions", chat(`"logit_bias":{"1":101}`), CodeInvalidValue, "logit_bias"},
		{"unknown effort", "/v1/chat/completions", chat(`"reasoning_effort":"max"`), CodeInvalidValue, "reasoning_effort"},
		{"unknown effort on responses", "/v1/responses", `{"input":"hi","reasoning":{"effort":"max"}}`, CodeInvalidValue, "reasoning.effort"},
		{"top_logprobs without logprobs", "/v1/chat/completions", chat(`"top_logprobs":2`), CodeInvalidValue, "top_logprobs"},
		{"top_logprobs out of range", "/v1/responses", `{"input":"hi","top_logprobs":21}`, CodeInvalidValue, "top_logprobs"},
		{"tool choice naming no tool", "/v1/chat/completions", chat(`"tool_choice":{"type":"function","function":{"name":"f"}}`), CodeInvalidValue, "tool_choice"},
		{"required without tools", "/v1/responses", `{"input":"hi","tool_choice":"required"}`, CodeInvalidValue, "tool_choice"},
		{"allowed tools", "/v1/responses", `{"input":"hi","tool_choice":{"type":"allowed_tools","tools":[]}}`, CodeUnsupportedValue, "tool_choice.type"},
		{"tool without a name", "/v1/chat/completions", chat(`"tools":[{"type":"function","function":{}}]`), CodeMissingParameter, "tools[0].function.name"},
		{"tool parameters not a schema", "/v1/responses", `{"input":"hi","tools":[{"type":"function","name":"f","parameters":"x"}]}`, CodeInvalidType, "tools[0].parameters"},
		{"unknown include", "/v1/responses", `{"input":"hi","include":["file_search_call.results"]}`, CodeUnsupportedValue, "include[0]"},
		{"unknown field", "/v1/responses", `{"input":"hi","frobnicate":1}`, CodeUnknownParam, "frobnicate"},
		{"verbosity", "/v1/responses", `{"input":"hi","text":{"verbosity":"low"}}`, CodeUnsupportedParam, "text.verbosity"},
		{"max_tool_calls", "/v1/responses", `{"input":"hi","max_tool_calls":2}`, CodeUnsupportedParam, "max_tool_calls"},
		{"participant name", "/v1/chat/completions", `{"messages":[{"role":"user","name":"bob","content":"hi"}]}`, CodeUnsupportedParam, "messages[0].name"},
		{"call without id", "/v1/chat/completions", `{"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, CodeMissingParameter, "messages[0].tool_calls[0].id"},
		{"function_call item without call_id", "/v1/responses", `{"input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, CodeMissingParameter, "input[0].call_id"},
		{"n=2", "/v1/chat/completions", chat(`"n":2`), CodeUnsupportedValue, "n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := e.do("POST", tc.path, tc.body, keyA)
			wantError(t, resp, data, 400, TypeInvalidRequest, tc.code, tc.param)
		})
	}
	if n := e.prov.Opened(); n != 0 {
		t.Fatalf("%d upstream calls for refused requests", n)
	}
}

// limited is a provider that honours only some fields.
type limited struct {
	llm.Provider
	caps llm.Capabilities
}

func (l limited) Name() string                   { return "limited" }
func (l limited) Capabilities() llm.Capabilities { return l.caps }

// A setting the provider cannot honour is a 400 naming the client's own
// field, before any upstream call.
func TestSettingRefusedByTheProvider(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) {
		c.Provider = limited{Provider: c.Provider, caps: llm.Capabilities{llm.FieldMaxTokens: true}}
	}))
	chat := func(extra string) string { return `{"messages":[{"role":"user","content":"hi"}],` + extra + `}` }
	for _, tc := range []struct {
		name, path, body, param string
	}{
		{"chat response_format", "/v1/chat/completions", chat(`"response_format":{"type":"json_object"}`), "response_format"},
		{"chat max_completion_tokens", "/v1/chat/completions", chat(`"max_completion_tokens":5`), "max_completion_tokens"},
		{"chat temperature", "/v1/chat/completions", chat(`"temperature":0`), "temperature"},
		{"chat tool messages", "/v1/chat/completions", `{"messages":[{"role":"tool","tool_call_id":"c","content":"1"}]}`, "messages"},
		{"responses text.format", "/v1/responses", `{"input":"hi","text":{"format":{"type":"json_object"}}}`, "text.format"},
		{"responses max_output_tokens", "/v1/responses", `{"input":"hi","max_output_tokens":5}`, "max_output_tokens"},
		{"responses reasoning.effort", "/v1/responses", `{"input":"hi","reasoning":{"effort":"low"}}`, "reasoning.effort"},
		{"responses include", "/v1/responses", `{"input":"hi","include":["message.output_text.logprobs"]}`, "include"},
		{"responses safety_identifier", "/v1/responses", `{"input":"hi","safety_identifier":"x"}`, "safety_identifier"},
		{"responses tool outputs", "/v1/responses", `{"input":[{"type":"function_call_output","call_id":"c","output":"1"}]}`, "input"},
		{"responses streamed", "/v1/responses", `{"input":"hi","stream":true,"top_p":0.1}`, "top_p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := e.do("POST", tc.path, tc.body, keyA)
			wantError(t, resp, data, 400, TypeInvalidRequest, CodeUnsupportedParam, tc.param)
		})
	}
	if n := e.prov.Opened(); n != 0 {
		t.Fatalf("%d upstream calls for refused requests", n)
	}
}

// The parsers never panic; what they accept is a valid provider request,
// and what they refuse is a 400 in OpenAI's shape.
func FuzzParseRequests(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"role":"user","content":"hi"}],"temperature":0,"stop":["a"],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"required"}`,
		`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"1"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}}`,
		`{"input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"1"}],"text":{"format":{"type":"json_object"}},"reasoning":{"effort":"low"},"include":["message.output_text.logprobs"]}`,
		`{"input":"hi","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function","name":"f"},"top_logprobs":2}`,
		`{"messages":[{"role":"user","content":"x"}],"logit_bias":{"1":1},"seed":-1,"n":1}`,
	} {
		f.Add(s)
	}
	a := &api{cfg: DefaultConfig()}
	f.Fuzz(func(t *testing.T, body string) {
		check := func(settings llm.Settings, msgs []llm.Message, err error) {
			if err != nil {
				oe, ok := err.(*Error)
				if !ok || oe.Status != 400 || oe.Type != TypeInvalidRequest || oe.Message == "" {
					t.Fatalf("refusal %v (%T)", err, err)
				}
				return
			}
			if err := settings.Validate(); err != nil {
				t.Fatalf("accepted invalid settings: %v", err)
			}
			if len(msgs) == 0 {
				t.Fatal("accepted no messages")
			}
		}
		c, err := a.parseChat([]byte(body))
		check(c.settings, c.messages, err)
		r, err := a.parseResponses([]byte(body))
		check(r.settings, r.messages, err)
	})
}
