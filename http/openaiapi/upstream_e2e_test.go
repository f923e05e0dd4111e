package openaiapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/openaiapi"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
	"github.com/armistice-go/armistice/llm/llmtest"
	llmopenai "github.com/armistice-go/armistice/llm/openai"
	"github.com/armistice-go/armistice/llm/resilient"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// serveWith runs the whole server on loopback in front of p and returns
// an official client pointed at it.
func serveWith(t *testing.T, p llm.Provider) openai.Client {
	t.Helper()
	eng, err := actors.New(actors.DefaultConfig(p))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := armhttp.New(eng, armhttp.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := openaiapi.Register(srv, openaiapi.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, time.Second)
		eng.Close()
	})
	return openai.NewClient(option.WithBaseURL("http://"+ln.Addr().String()+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
}

var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name: "weather",
	Parameters: shared.FunctionParameters{
		"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"},
	},
})

// TestToolLoopThroughAnOpenAICompatibleUpstream: the official client, the
// whole server, the real OpenAI provider behind llm/resilient (as `serve`
// builds it), and a fake OpenAI-compatible upstream: the model asks for a
// tool, the client answers, the model finishes; the upstream receives the
// tools and the tool turn as OpenAI expects them.
func TestToolLoopThroughAnOpenAICompatibleUpstream(t *testing.T) {
	up := llmtest.NewOpenAIServer(t, llmtest.ToolCall("call_1", "weather", `{"city":`, `"Oslo"}`), llmtest.Answer("Cold", " and snowing."))
	oa, err := llmopenai.New(llmopenai.Config{BaseURL: up.URL, APIKey: "sk-up", Model: "gpt-test"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := resilient.New(resilient.Config{Upstreams: []resilient.Upstream{{Name: "openai", Provider: oa}}})
	if err != nil {
		t.Fatal(err)
	}
	client := serveWith(t, p)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:      "gpt-test",
		Messages:   []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Oslo?")},
		Tools:      []openai.ChatCompletionToolUnionParam{weatherTool},
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")},
	}
	first, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	msg := first.Choices[0].Message
	if first.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 1 || msg.ToolCalls[0].ID != "call_1" ||
		msg.ToolCalls[0].Function.Arguments != `{"city":"Oslo"}` {
		t.Fatalf("first answer: %s", first.RawJSON())
	}
	params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage("-3 and snowing", "call_1"))
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != "Cold and snowing." {
		t.Fatalf("second answer %q", got)
	}
	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d upstream requests; want 2", len(reqs))
	}
	var second struct {
		Tools    []map[string]any `json:"tools"`
		Messages []map[string]any `json:"messages"`
	}
	if err := json.Unmarshal(reqs[1].Body, &second); err != nil {
		t.Fatal(err)
	}
	if len(second.Tools) != 1 || len(second.Messages) != 3 || second.Messages[1]["tool_calls"] == nil ||
		second.Messages[2]["role"] != "tool" || second.Messages[2]["tool_call_id"] != "call_1" {
		t.Fatalf("the upstream's second request: %s", reqs[1].Body)
	}
}

// TestJSONSchemaWithTheEmbeddedModel: a json_schema request through the
// official client gets a document valid for the schema, with no API key.
func TestJSONSchemaWithTheEmbeddedModel(t *testing.T) {
	p, err := embedded.New(embedded.Config{TokensPerSecond: 0, Tokens: 16})
	if err != nil {
		t.Fatal(err)
	}
	client := serveWith(t, p)
	res, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "embedded",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A person, please.")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
				Name:   "person",
				Strict: openai.Bool(true),
				Schema: map[string]any{
					"type": "object",
					"properties": map[string]any{
						"name": map[string]any{"type": "string"},
						"age":  map[string]any{"type": "integer", "minimum": 0, "maximum": 120},
						"role": map[string]any{"type": "string", "enum": []string{"queen", "rabbit"}},
					},
					"required":             []string{"name", "age", "role"},
					"additionalProperties": false,
				},
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var person struct {
		Name *string
		Age  *int
		Role *string
	}
	content := res.Choices[0].Message.Content
	dec := json.NewDecoder(strings.NewReader(content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&person); err != nil || person.Name == nil || person.Age == nil || person.Role == nil ||
		*person.Age < 0 || *person.Age > 120 || (*person.Role != "queen" && *person.Role != "rabbit") {
		t.Fatalf("not valid for the schema: %q (%v)", content, err)
	}
}

// TestUpstream429ReachesTheClient: an upstream 429 that outlasts
// Armistice's retries reaches the official client as a 429 with the
// upstream's Retry-After, code and message, not as a 502.
func TestUpstream429ReachesTheClient(t *testing.T) {
	up := llmtest.NewOpenAIServer(t, llmtest.StatusBody(429, "7", "requests", "rate_limit_exceeded", "", "Slow down."))
	oa, err := llmopenai.New(llmopenai.Config{BaseURL: up.URL, APIKey: "sk-up", Model: "gpt-test"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := resilient.New(resilient.Config{Upstreams: []resilient.Upstream{{Name: "openai", Provider: oa}}, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	client := serveWith(t, p)
	var resp *http.Response
	_, err = client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-test",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}, option.WithResponseInto(&resp))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "rate_limit_exceeded" || !strings.Contains(apiErr.Message, "Slow down.") {
		t.Fatalf("error = %v; want the upstream's 429", err)
	}
	if got := apiErr.Response.Header.Get("Retry-After"); got != "7" {
		t.Fatalf("Retry-After %q; want 7", got)
	}
	if n := up.Count(); n != 1 {
		t.Fatalf("%d upstream calls; want 1 (no retries configured, and the client's own retries off)", n)
	}
}
