package openai_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/openai"
)

// chunkEvent is a Chat Completions chunk event with the given choice.
func chunkEvent(choice string) string {
	return `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[` + choice + `]}` + "\n\n"
}

// stream runs script against a provider and drains the answer.
func stream(t *testing.T, script llmtest.Script) providertest.Result {
	t.Helper()
	s := llmtest.NewOpenAIServer(t, script)
	p := newProvider(t, openai.Config{BaseURL: s.URL, HTTPClient: s.Client()})
	st, err := p.Stream(t.Context(), llm.Prompt("x"))
	if err != nil {
		t.Fatal(err)
	}
	return providertest.Drain(t, st)
}

func TestToolCallDeltas(t *testing.T) {
	fixture, err := llmtest.Fixture("openai_tool_calls.txt")
	if err != nil {
		t.Fatal(err)
	}
	finish := chunkEvent(`{"index":0,"delta":{},"finish_reason":"tool_calls"}`) + "data: [DONE]\n\n"
	for _, tc := range []struct {
		name      string
		script    llmtest.Script
		reasoning string
		calls     []llm.ToolCallDelta
		chunks    int // chunks before the finish
	}{
		{
			name:      "two calls, arguments split over chunks, after reasoning (fixture)",
			script:    llmtest.Replay(fixture),
			reasoning: "The user wants the weather.",
			calls: []llm.ToolCallDelta{
				{Index: 0, ID: "call_a", Name: "get_weather"},
				{Index: 0, Arguments: `{"city":`},
				{Index: 0, Arguments: `"Paris"}`},
				{Index: 1, ID: "call_b", Name: "get_time", Arguments: `{"tz":"CET"}`},
			},
			chunks: 6,
		},
		{
			name:   "ToolCall script",
			script: llmtest.ToolCall("call_1", "now", `{`, `}`),
			calls:  []llm.ToolCallDelta{{ID: "call_1", Name: "now"}, {Arguments: "{"}, {Arguments: "}"}},
			chunks: 3,
		},
		{
			name: "several calls in one chunk, text beside them",
			script: llmtest.Replay(chunkEvent(`{"index":0,"delta":{"content":"Calling.","tool_calls":[`+
				`{"index":0,"id":"call_a","type":"function","function":{"name":"a","arguments":"{}"}},`+
				`{"index":1,"id":"call_b","type":"function","function":{"name":"b","arguments":"{\"x\":"}}]},"finish_reason":null}`) +
				chunkEvent(`{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"1}"}}]},"finish_reason":null}`) + finish),
			calls: []llm.ToolCallDelta{
				{Index: 0, ID: "call_a", Name: "a", Arguments: "{}"},
				{Index: 1, ID: "call_b", Name: "b", Arguments: `{"x":`},
				{Index: 1, Arguments: "1}"},
			},
			chunks: 2,
		},
		{
			name: "legacy function_call",
			script: llmtest.Replay(chunkEvent(`{"index":0,"delta":{"role":"assistant","content":null,"function_call":{"name":"f","arguments":""}},"finish_reason":null}`) +
				chunkEvent(`{"index":0,"delta":{"function_call":{"arguments":"{}"}},"finish_reason":null}`) +
				chunkEvent(`{"index":0,"delta":{},"finish_reason":"function_call"}`) + "data: [DONE]\n\n"),
			calls:  []llm.ToolCallDelta{{Name: "f"}, {Arguments: "{}"}},
			chunks: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stream(t, tc.script)
			if r.Err != nil || r.Finish != llm.FinishToolCalls || r.Reasoning != tc.reasoning {
				t.Fatalf("finish %q, reasoning %q, %v", r.Finish, r.Reasoning, r.Err)
			}
			if !reflect.DeepEqual(r.ToolCalls, tc.calls) {
				t.Fatalf("tool calls\n%+v\nwant\n%+v", r.ToolCalls, tc.calls)
			}
			for i, c := range r.Chunks[:tc.chunks] {
				if c.FinishReason != llm.FinishNone {
					t.Fatalf("chunk %d finishes early: %+v", i, c)
				}
			}
			if r.Chunks[tc.chunks].FinishReason != llm.FinishToolCalls {
				t.Fatalf("chunk %d = %+v, want the finish", tc.chunks, r.Chunks[tc.chunks])
			}
		})
	}
}

func TestReasoningDeltas(t *testing.T) {
	stop := chunkEvent(`{"index":0,"delta":{"content":"42"},"finish_reason":"stop"}`) + "data: [DONE]\n\n"
	for _, tc := range []struct {
		name, delta, want string
	}{
		{"reasoning_content (vLLM, DeepSeek, llama.cpp)", `{"reasoning_content":"Let me think."}`, "Let me think."},
		{"reasoning (newer vLLM, OpenRouter, Ollama)", `{"reasoning":"Let me think."}`, "Let me think."},
		{"both: reasoning_content only, not twice", `{"reasoning_content":"Let me think.","reasoning":"Let me think."}`, "Let me think."},
		{"null", `{"reasoning_content":null,"reasoning":null,"content":""}`, ""},
		{"not a string is ignored", `{"reasoning":{"summary":"x"},"reasoning_content":["y"]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stream(t, llmtest.Replay(chunkEvent(`{"index":0,"delta":`+tc.delta+`,"finish_reason":null}`)+stop))
			if r.Err != nil || r.Reasoning != tc.want || r.Text != "42" || r.Finish != llm.FinishStop {
				t.Fatalf("got %+v", r)
			}
			if tc.want != "" && (r.Chunks[0].Reasoning != tc.want || r.Chunks[0].Text != "") {
				t.Fatalf("first chunk %+v", r.Chunks[0])
			}
		})
	}
	// The fake server's Step.Reasoning.
	r := stream(t, llmtest.Script{Steps: []llmtest.Step{{Reasoning: "Hm,"}, {Reasoning: " yes.", Text: "Yes"}, {Finish: llm.FinishStop}, {Done: true}}})
	if r.Reasoning != "Hm, yes." || r.Text != "Yes" || len(r.Chunks) != 3 || r.Chunks[1].Reasoning != " yes." || r.Chunks[1].Text != "Yes" {
		t.Fatalf("got %+v", r)
	}
}

func TestLogprobs(t *testing.T) {
	fixture, err := llmtest.Fixture("openai_logprobs.txt")
	if err != nil {
		t.Fatal(err)
	}
	r := stream(t, llmtest.Replay(fixture))
	if r.Err != nil || r.Text != "Hello!" {
		t.Fatalf("got %+v", r)
	}
	hello := []int{72, 101, 108, 108, 111}
	want := [][]llm.TokenLogprob{
		{{Token: "Hello", Logprob: -0.25, Bytes: hello, Top: []llm.TopLogprob{{Token: "Hello", Logprob: -0.25, Bytes: hello}, {Token: "Hi", Logprob: -1.5, Bytes: []int{72, 105}}}}},
		{{Token: "!", Logprob: -0.01, Bytes: []int{33}}},
	}
	for i, w := range want {
		if !reflect.DeepEqual(r.Chunks[i].Logprobs, w) {
			t.Fatalf("chunk %d logprobs %+v, want %+v", i, r.Chunks[i].Logprobs, w)
		}
	}
	// bytes null and an empty top list, as some servers send them.
	r = stream(t, llmtest.Replay(chunkEvent(`{"index":0,"delta":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":-1,"bytes":null,"top_logprobs":[]}]},"finish_reason":"stop"}`)))
	if want := []llm.TokenLogprob{{Token: "a", Logprob: -1, Top: []llm.TopLogprob{}}}; !reflect.DeepEqual(r.Logprobs, want) {
		t.Fatalf("logprobs %#v, want %#v", r.Logprobs, want)
	}
}

// TestStatusErrors checks what an upstream error status becomes: the
// status, the body's type, code, param and message, Retry-After, and no
// API key anywhere.
func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		script llmtest.Script
		want   llm.StatusError
	}{
		{llmtest.StatusBody(400, "", "invalid_request_error", "context_length_exceeded", "messages", "This model's maximum context length is 128000 tokens."),
			llm.StatusError{StatusCode: 400, Type: "invalid_request_error", Code: "context_length_exceeded", Param: "messages", Message: "This model's maximum context length is 128000 tokens."}},
		{llmtest.StatusBody(401, "", "invalid_request_error", "invalid_api_key", "", "Incorrect API key provided: "+providertest.Secret+"."),
			llm.StatusError{StatusCode: 401, Type: "invalid_request_error", Code: "invalid_api_key", Message: "Incorrect API key provided: [redacted]."}},
		{llmtest.StatusBody(404, "", "invalid_request_error", "model_not_found", "model", "The model `gpt-9` does not exist."),
			llm.StatusError{StatusCode: 404, Type: "invalid_request_error", Code: "model_not_found", Param: "model", Message: "The model `gpt-9` does not exist."}},
		{llmtest.StatusBody(429, "7", "", "", "", "Rate limit reached."),
			llm.StatusError{StatusCode: 429, Type: "requests", Code: "rate_limit_exceeded", Message: "Rate limit reached.", RetryAfter: 7e9}},
		{llmtest.StatusBody(429, "", "insufficient_quota", "insufficient_quota", "", "You exceeded your current quota."),
			llm.StatusError{StatusCode: 429, Type: "insufficient_quota", Code: "insufficient_quota", Message: "You exceeded your current quota."}},
		{llmtest.Status(503, ""), llm.StatusError{StatusCode: 503, Type: "server_error", Message: "Service Unavailable"}},
	} {
		t.Run(fmt.Sprint(tc.script.Status, tc.script.ErrorCode), func(t *testing.T) {
			s := llmtest.NewOpenAIServer(t, tc.script)
			p := newProvider(t, openai.Config{BaseURL: s.URL, APIKey: providertest.Secret, HTTPClient: s.Client()})
			_, err := p.Stream(t.Context(), llm.Prompt("x"))
			var se *llm.StatusError
			if !errors.As(err, &se) || *se != tc.want {
				t.Fatalf("Stream = %v\n%+v, want\n%+v", err, se, tc.want)
			}
			providertest.NoSecret(t, err)
		})
	}
}
