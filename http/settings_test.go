package http

import (
	"context"
	"fmt"
	"github.com/armistice-go/armistice/actors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/llm"
)

func ptr[T any](v T) *T { return &v }

// The native API takes the same settings as Chat Completions, under the
// same names, and hands them to the provider as they came.
func TestSubmitSettingsReachTheProvider(t *testing.T) {
	e := newEnv(t)
	snap := e.submit(`{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"weather?"},` +
		`{"role":"assistant","content":"","tool_calls":[{"id":"c1","name":"weather","arguments":"{}"}]},{"role":"tool","tool_call_id":"c1","content":"cold"}],` +
		`"max_tokens":9,"temperature":0,"top_p":0.5,"top_k":40,"stop":"come","seed":3,"presence_penalty":1,"frequency_penalty":-1,` +
		`"logit_bias":{"7":-5},"user":"u","service_tier":"flex","reasoning_effort":"low","logprobs":true,"top_logprobs":2,` +
		`"response_format":{"type":"json_schema","name":"w","schema":{"type":"object"},"strict":true},` +
		`"tools":[{"name":"weather","description":"d","parameters":{"type":"object"}}],"tool_choice":{"name":"weather"},"parallel_tool_calls":false}`)
	s := e.script()
	got := s.Request()
	s.Finish(llm.FinishStop, nil)
	want := llm.Request{Model: "", MaxTokens: 9, Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: "be brief"}, {Role: llm.RoleUser, Content: "weather?"},
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c1", Name: "weather", Arguments: "{}"}}},
		{Role: llm.RoleTool, ToolCallID: "c1", Content: "cold"}},
		Settings: llm.Settings{MaxTokensField: llm.FieldMaxTokens, Temperature: ptr(0.0), TopP: ptr(0.5), TopK: ptr(40),
			Stop: []string{"come"}, Seed: ptr(int64(3)), PresencePenalty: ptr(1.0), FrequencyPenalty: ptr(-1.0),
			LogitBias: map[string]float64{"7": -5}, User: "u", ServiceTier: "flex", ReasoningEffort: "low", Logprobs: true, TopLogprobs: ptr(2),
			ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "w", Schema: []byte(`{"type":"object"}`), Strict: ptr(true)},
			Tools:          []llm.Tool{{Name: "weather", Description: "d", Parameters: []byte(`{"type":"object"}`)}},
			ToolChoice:     &llm.ToolChoice{Mode: llm.ToolChoiceFunction, Name: "weather"}, ParallelToolCalls: ptr(false)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("provider got\n%+v\nwant\n%+v", got, want)
	}
	if snap.ID == "" {
		t.Fatal("no id")
	}
}

func TestSubmitSettingsRefused(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{
		`{"prompt":"hi","messages":[{"role":"user","content":"hi"}]}`,
		`{"messages":[{"role":"narrator","content":"hi"}]}`,
		`{"messages":[{"role":"tool","content":"1"}]}`,
		`{"messages":[{"role":"user","content":"hi","tool_calls":[{"id":"c","name":"f"}]}]}`,
		`{"prompt":"hi","temperature":2.5}`,
		`{"prompt":"hi","top_k":0}`,
		`{"prompt":"hi","stop":[1]}`,
		`{"prompt":"hi","stop":["a","b","c","d","e"]}`,
		`{"prompt":"hi","tool_choice":"required"}`,
		`{"prompt":"hi","tool_choice":{"name":"f"}}`,
		`{"prompt":"hi","tools":[{"name":""}]}`,
		`{"prompt":"hi","tools":[{"name":"f","type":"function"}]}`,
		`{"prompt":"hi","response_format":{"type":"json_schema"}}`,
		`{"prompt":"hi","logit_bias":{"1":200}}`,
	} {
		resp, data := e.do("POST", "/v1/requests", body)
		wantError(t, resp, data, 400, CodeInvalidRequest)
	}
	if n := e.prov.Opened(); n != 0 {
		t.Fatalf("%d upstream calls", n)
	}
}

type basicProvider struct{ llm.Provider }

func (basicProvider) Name() string { return "basic" }

// A setting the provider cannot honour is refused at submit, naming it.
func TestSubmitSettingTheProviderCannotHonour(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.Provider = basicProvider{c.Provider} }))
	resp, data := e.do("POST", "/v1/requests", `{"prompt":"hi","temperature":0}`)
	body := wantError(t, resp, data, 400, CodeUnsupportedSetting)
	if !strings.Contains(body.Error.Message, "temperature") {
		t.Fatalf("message %q", body.Error.Message)
	}
}

// Reasoning and tool calls are events of their own; a resume with
// Last-Event-ID inside a call's arguments continues byte for byte.
func TestReasoningAndToolCallEvents(t *testing.T) {
	e := newEnv(t, withEngine(func(c *actors.Config) { c.Linger = time.Hour }))
	snap := e.submit(`{"prompt":"weather?","tools":[{"name":"weather"}]}`)
	s := e.script()
	s.Chunk(llm.Chunk{Reasoning: "hmm"})
	s.Chunk(llm.Chunk{Text: "ok", Logprobs: []llm.TokenLogprob{{Token: "ok", Logprob: -0.25}}})
	s.Chunk(llm.Chunk{ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "c1", Name: "weather", Arguments: `{"ci`}}})
	s.Chunk(llm.Chunk{ToolCalls: []llm.ToolCallDelta{{Index: 0, Arguments: `ty":"<Oslo>"}`}}})
	s.Finish(llm.FinishToolCalls, nil)
	_, full := e.do("GET", "/v1/requests/"+snap.ID+"/events", "")
	for _, want := range []string{
		"id: 3\nevent: reasoning\ndata: {\"seq\":3,\"text\":\"hmm\"}\n\n",
		"id: 4\nevent: token\ndata: {\"seq\":4,\"text\":\"ok\",\"logprobs\":[{\"token\":\"ok\",\"logprob\":-0.25}]}\n\n",
		"id: 5\nevent: tool_call\ndata: {\"seq\":5,\"index\":0,\"id\":\"c1\",\"name\":\"weather\",\"arguments\":\"{\\\"ci\"}\n\n",
		"id: 6\nevent: tool_call\ndata: {\"seq\":6,\"index\":0,\"arguments\":\"ty\\\":\\\"\\u003cOslo\\u003e\\\"}\"}\n\n",
		"event: end\ndata: {\"seq\":7,\"state\":\"done\",\"status\":\"completed\",\"reason\":\"tool_calls\",\"tokens\":1}\n\n",
	} {
		if !strings.Contains(string(full), want) {
			t.Fatalf("stream lacks %q:\n%s", want, full)
		}
	}
	for after := 4; after <= 6; after++ {
		_, got := e.do("GET", "/v1/requests/"+snap.ID+"/events", "", "Last-Event-ID", fmt.Sprint(after))
		cut := strings.Index(string(full), fmt.Sprintf("id: %d\n", after+1))
		if string(got) != string(full)[cut:] {
			t.Fatalf("after %d:\n%s\nwant\n%s", after, got, string(full)[cut:])
		}
	}
}

// refusing is a provider whose every call is refused with err.
type refusing struct{ err error }

func (p refusing) Name() string { return "refusing" }
func (p refusing) Stream(context.Context, llm.Request) (llm.Stream, error) {
	return nil, p.err
}

// The upstream's status, type, code, param and Retry-After are on the end
// event and the snapshot.
func TestUpstreamErrorOnEndAndSnapshot(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503} {
		for _, ra := range []time.Duration{0, 1500 * time.Millisecond} {
			t.Run(fmt.Sprintf("%d %s", status, ra), func(t *testing.T) {
				e := newEnv(t, withEngine(func(c *actors.Config) { c.Linger = time.Hour }),
					withProvider(refusing{fmt.Errorf("resilient: %w", &llm.StatusError{StatusCode: status, RetryAfter: ra,
						Message: "upstream says no", Type: "some_type", Code: "some_code", Param: "messages"})}))
				snap := e.submit(`{"prompt":"hi"}`)
				evs := e.mustOpen(snap.ID, "").readToEnd()
				end := endOf(t, evs)
				wantRA := 0.0
				if ra > 0 {
					wantRA = 2
				}
				if end["status"] != "failed" || end["reason"] != "upstream_error" || end["message"] != "upstream says no" ||
					end["upstream_status"] != float64(status) || end["upstream_type"] != "some_type" || end["upstream_code"] != "some_code" ||
					end["upstream_param"] != "messages" || (end["upstream_retry_after"] != nil) != (ra > 0) ||
					(ra > 0 && end["upstream_retry_after"] != wantRA) {
					t.Fatalf("end = %v", end)
				}
				_, got := e.status(snap.ID)
				if got.UpstreamStatus != status || got.UpstreamCode != "some_code" || got.UpstreamType != "some_type" || got.UpstreamParam != "messages" {
					t.Fatalf("snapshot = %+v", got)
				}
			})
		}
	}
}
