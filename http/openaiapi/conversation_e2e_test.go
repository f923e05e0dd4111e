package openaiapi_test

import (
	"context"
	"testing"

	"github.com/armistice-go/armistice/llm/llmtest"
	llmopenai "github.com/armistice-go/armistice/llm/openai"
	"github.com/armistice-go/armistice/llm/resilient"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
)

// The upstream bodies of the three-turn conversation below, exactly as the
// real OpenAI provider sends them to an OpenAI-compatible upstream. Turn 1
// asks for the weather and the model calls the tool; turn 2 answers the
// call; turn 3 is a follow-up with instructions of its own (turn 1's are
// not carried over, as at OpenAI).
const (
	wantTurn1Body = `{"messages":[{"content":"Be brief.","role":"system"},{"content":"Weather in Oslo?","role":"user"}],"model":"gpt-test","stream_options":{"include_usage":true},"stream":true,"tools":[{"type":"function","function":{"name":"weather","parameters":{"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"strict":true}}]}`
	wantTurn2Body = `{"messages":[{"content":"Weather in Oslo?","role":"user"},{"content":null,"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},{"content":"-3 and snowing","role":"tool","tool_call_id":"call_1"}],"model":"gpt-test","stream_options":{"include_usage":true},"stream":true,"tools":[{"type":"function","function":{"name":"weather","parameters":{"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"strict":true}}]}`
	wantTurn3Body = `{"messages":[{"content":"Answer in French.","role":"system"},{"content":"Weather in Oslo?","role":"user"},{"content":null,"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},{"content":"-3 and snowing","role":"tool","tool_call_id":"call_1"},{"content":"Cold and snowing.","role":"assistant"},{"content":"And tomorrow?","role":"user"}],"model":"gpt-test","stream_options":{"include_usage":true},"stream":true}`
)

// conversationUpstream is the whole server in front of the real OpenAI
// provider and an llmtest fake scripted for the three turns.
func conversationUpstream(t *testing.T) (*llmtest.Server, openai.Client) {
	t.Helper()
	up := llmtest.NewOpenAIServer(t,
		llmtest.ToolCall("call_1", "weather", `{"city":`, `"Oslo"}`),
		llmtest.Answer("Cold", " and snowing."),
		llmtest.Answer("Froid", " aussi."))
	oa, err := llmopenai.New(llmopenai.Config{BaseURL: up.URL, APIKey: "sk-up", Model: "gpt-test"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := resilient.New(resilient.Config{Upstreams: []resilient.Upstream{{Name: "openai", Provider: oa}}})
	if err != nil {
		t.Fatal(err)
	}
	return up, serveWith(t, p)
}

var weatherFunction = responses.ToolParamOfFunction("weather", map[string]any{
	"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"},
}, true)

// streamText creates a streamed response and returns its text and the
// response its response.completed event carried.
func streamText(t *testing.T, client openai.Client, p responses.ResponseNewParams) (text string, done *responses.Response) {
	t.Helper()
	stream := client.Responses.NewStreaming(context.Background(), p)
	defer stream.Close()
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "response.output_text.delta":
			text += ev.Delta
		case "response.completed":
			done = &ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if done == nil {
		t.Fatal("no response.completed event")
	}
	return text, done
}

// checkUpstream compares the bodies the fake upstream received with the
// wanted ones, byte for byte.
func checkUpstream(t *testing.T, up *llmtest.Server, want ...string) {
	t.Helper()
	reqs := up.Requests()
	if len(reqs) != len(want) {
		t.Fatalf("%d upstream requests; want %d", len(reqs), len(want))
	}
	for i, r := range reqs {
		if string(r.Body) != want[i] {
			t.Errorf("turn %d reached the upstream as\n%s\nwant\n%s", i+1, r.Body, want[i])
		}
	}
}

// TestConversationByPreviousResponseIDUpstream: three turns chained with
// previous_response_id through the official client, the whole server and
// the real OpenAI provider; the last turn streamed. The fake upstream
// receives each turn with the earlier turns' input and output before its
// own input, byte for byte; the client sees each turn's answer.
func TestConversationByPreviousResponseIDUpstream(t *testing.T) {
	up, client := conversationUpstream(t)
	ctx := context.Background()
	first, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "gpt-test",
		Instructions: openai.String("Be brief."),
		Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Oslo?")},
		Tools:        []responses.ToolUnionParam{weatherFunction},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Output) != 1 || first.Output[0].Type != "function_call" || first.Output[0].CallID != "call_1" ||
		first.Output[0].AsFunctionCall().Arguments != `{"city":"Oslo"}` {
		t.Fatalf("turn 1: %s", first.RawJSON())
	}
	out := responses.ResponseInputItemParamOfFunctionCallOutput("-3 and snowing")
	out.OfFunctionCallOutput.CallID = openai.String("call_1")
	second, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:              "gpt-test",
		PreviousResponseID: openai.String(first.ID),
		Input:              responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{out}},
		Tools:              []responses.ToolUnionParam{weatherFunction},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := second.OutputText(); got != "Cold and snowing." {
		t.Fatalf("turn 2 answered %q", got)
	}
	text, _ := streamText(t, client, responses.ResponseNewParams{
		Model:              "gpt-test",
		Instructions:       openai.String("Answer in French."),
		PreviousResponseID: openai.String(second.ID),
		Input:              responses.ResponseNewParamsInputUnion{OfString: openai.String("And tomorrow?")},
	})
	if text != "Froid aussi." {
		t.Fatalf("turn 3 streamed %q", text)
	}
	checkUpstream(t, up, wantTurn1Body, wantTurn2Body, wantTurn3Body)
}

// TestConversationByItemReferenceUpstream: the same three turns as the
// Vercel AI SDK sends them: the client sends the whole conversation each
// turn, with its earlier output items as item_reference items (the middle
// turn streamed). The fake upstream receives exactly what the
// previous_response_id conversation sent it.
func TestConversationByItemReferenceUpstream(t *testing.T) {
	up, client := conversationUpstream(t)
	ctx := context.Background()
	first, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "gpt-test",
		Instructions: openai.String("Be brief."),
		Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Oslo?")},
		Tools:        []responses.ToolUnionParam{weatherFunction},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Output) != 1 || first.Output[0].Type != "function_call" {
		t.Fatalf("turn 1: %s", first.RawJSON())
	}
	out := responses.ResponseInputItemParamOfFunctionCallOutput("-3 and snowing")
	out.OfFunctionCallOutput.CallID = openai.String(first.Output[0].CallID)
	history := responses.ResponseInputParam{
		responses.ResponseInputItemParamOfMessage("Weather in Oslo?", responses.EasyInputMessageRoleUser),
		responses.ResponseInputItemParamOfItemReference(first.Output[0].ID),
		out,
	}
	text, second := streamText(t, client, responses.ResponseNewParams{
		Model: "gpt-test",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: history},
		Tools: []responses.ToolUnionParam{weatherFunction},
	})
	if text != "Cold and snowing." || len(second.Output) != 1 || second.Output[0].Type != "message" {
		t.Fatalf("turn 2 streamed %q, then %s", text, second.RawJSON())
	}
	history = append(history,
		responses.ResponseInputItemParamOfItemReference(second.Output[0].ID),
		responses.ResponseInputItemParamOfMessage("And tomorrow?", responses.EasyInputMessageRoleUser))
	third, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:        "gpt-test",
		Instructions: openai.String("Answer in French."),
		Input:        responses.ResponseNewParamsInputUnion{OfInputItemList: history},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := third.OutputText(); got != "Froid aussi." {
		t.Fatalf("turn 3 answered %q", got)
	}
	checkUpstream(t, up, wantTurn1Body, wantTurn2Body, wantTurn3Body)
}
