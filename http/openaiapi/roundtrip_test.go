package openaiapi

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
)

var weatherParams = map[string]any{
	"type":       "object",
	"properties": map[string]any{"city": map[string]any{"type": "string"}},
	"required":   []string{"city"},
}

// askForWeather makes the scripted model call weather(city=Oslo), the
// arguments in two pieces, and stop for the tool.
func askForWeather(t *testing.T, s interface {
	Request() llm.Request
	Chunk(llm.Chunk) bool
	Finish(llm.FinishReason, *llm.Usage) bool
}) {
	t.Helper()
	req := s.Request()
	if len(req.Settings.Tools) != 1 || req.Settings.Tools[0].Name != "weather" || req.Settings.ToolChoice == nil ||
		req.Settings.ToolChoice.Mode != llm.ToolChoiceRequired {
		t.Fatalf("provider got settings %+v", req.Settings)
	}
	s.Chunk(llm.Chunk{Reasoning: "The user wants the weather."})
	s.Chunk(llm.Chunk{ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "call_w1", Name: "weather", Arguments: `{"city":`}}})
	s.Chunk(llm.Chunk{ToolCalls: []llm.ToolCallDelta{{Index: 0, Arguments: `"Oslo"}`}}})
	s.Finish(llm.FinishToolCalls, nil)
}

// wantToolTurn checks the second request: the call and its result went
// upstream as a tool turn.
func wantToolTurn(t *testing.T, req llm.Request) {
	t.Helper()
	want := []llm.Message{
		{Role: llm.RoleUser, Content: "Weather in Oslo?"},
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_w1", Name: "weather", Arguments: `{"city":"Oslo"}`}}},
		{Role: llm.RoleTool, ToolCallID: "call_w1", Content: "-3 and snowing"},
	}
	if !reflect.DeepEqual(req.Messages, want) {
		t.Fatalf("second request messages:\n%+v\nwant\n%+v", req.Messages, want)
	}
}

func TestChatToolRoundTrip(t *testing.T) {
	for _, stream := range []bool{true, false} {
		t.Run(map[bool]string{true: "stream", false: "no stream"}[stream], func(t *testing.T) {
			e := newEnv(t)
			client := e.sdk(keyA)
			params := openai.ChatCompletionNewParams{
				Model:    "scripted",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Oslo?")},
				Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
					Name: "weather", Parameters: weatherParams, Strict: openai.Bool(true),
				})},
				ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
			}
			complete := func(p openai.ChatCompletionNewParams, script func()) openai.ChatCompletionMessage {
				if !stream {
					res := async(func() *openai.ChatCompletion {
						c, err := client.Chat.Completions.New(e.ctx(), p)
						if err != nil {
							t.Errorf("New: %v", err)
							return nil
						}
						return c
					})
					script()
					c := wait(t, res)
					if c == nil {
						t.FailNow()
					}
					return c.Choices[0].Message
				}
				res := async(func() *ssestream.Stream[openai.ChatCompletionChunk] {
					return client.Chat.Completions.NewStreaming(e.ctx(), p)
				})
				script()
				st := wait(t, res)
				defer st.Close()
				var acc openai.ChatCompletionAccumulator
				for st.Next() {
					acc.AddChunk(st.Current())
				}
				if err := st.Err(); err != nil {
					t.Fatalf("stream: %v", err)
				}
				return acc.Choices[0].Message
			}
			var first openai.ChatCompletionMessage
			first = complete(params, func() { askForWeather(t, e.script()) })
			if len(first.ToolCalls) != 1 || first.ToolCalls[0].ID != "call_w1" || first.ToolCalls[0].Function.Name != "weather" ||
				first.ToolCalls[0].Function.Arguments != `{"city":"Oslo"}` || first.ToolCalls[0].Type != "function" {
				t.Fatalf("tool calls: %s", first.RawJSON())
			}
			if !stream && first.JSON.ExtraFields["reasoning_content"].Raw() != `"The user wants the weather."` {
				t.Fatalf("reasoning: %s", first.RawJSON())
			}
			params.Messages = append(params.Messages, first.ToParam(), openai.ToolMessage("-3 and snowing", "call_w1"))
			params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")}
			second := complete(params, func() {
				s := e.script()
				wantToolTurn(t, s.Request())
				s.Token("Cold: -3 and snowing.")
				s.Finish(llm.FinishStop, nil)
			})
			if second.Content != "Cold: -3 and snowing." || len(second.ToolCalls) != 0 {
				t.Fatalf("answer: %s", second.RawJSON())
			}
		})
	}
}

func TestResponsesToolRoundTrip(t *testing.T) {
	for _, stream := range []bool{true, false} {
		t.Run(map[bool]string{true: "stream", false: "no stream"}[stream], func(t *testing.T) {
			e := newEnv(t)
			client := e.sdk(keyA)
			params := responses.ResponseNewParams{
				Model: "scripted",
				Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
					responses.ResponseInputItemParamOfMessage("Weather in Oslo?", responses.EasyInputMessageRoleUser),
				}},
				Tools:      []responses.ToolUnionParam{responses.ToolParamOfFunction("weather", weatherParams, true)},
				ToolChoice: responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsRequired)},
			}
			create := func(p responses.ResponseNewParams, script func()) *responses.Response {
				if !stream {
					res := async(func() *responses.Response {
						r, err := client.Responses.New(e.ctx(), p)
						if err != nil {
							t.Errorf("New: %v", err)
						}
						return r
					})
					script()
					r := wait(t, res)
					if r == nil {
						t.FailNow()
					}
					return r
				}
				res := async(func() *ssestream.Stream[responses.ResponseStreamEventUnion] {
					return client.Responses.NewStreaming(e.ctx(), p)
				})
				script()
				st := wait(t, res)
				defer st.Close()
				evs := readAll(t, st)
				checkEvents(t, evs, 0)
				var args string
				for _, ev := range evs {
					if ev.Type == "response.function_call_arguments.delta" {
						args += ev.Delta
					}
				}
				last := evs[len(evs)-1].Response
				for _, it := range last.Output {
					if it.Type == "function_call" && it.Arguments.OfString != args {
						t.Fatalf("deltas %q, final arguments %q", args, it.Arguments.OfString)
					}
				}
				return &last
			}
			first := create(params, func() { askForWeather(t, e.script()) })
			if first.Status != "completed" || len(first.Output) != 2 || first.Output[0].Type != "reasoning" {
				t.Fatalf("first response: %s", first.RawJSON())
			}
			if len(first.Tools) != 1 || first.Tools[0].Name != "weather" || first.ToolChoice.OfToolChoiceMode != "required" || !first.ParallelToolCalls {
				t.Fatalf("the response does not show its tools: %s", first.RawJSON())
			}
			call := first.Output[1].AsFunctionCall()
			if call.CallID != "call_w1" || call.Name != "weather" || call.Arguments != `{"city":"Oslo"}` || call.Status != "completed" {
				t.Fatalf("function call: %s", first.Output[1].RawJSON())
			}
			out := responses.ResponseInputItemParamOfFunctionCallOutput("-3 and snowing")
			out.OfFunctionCallOutput.CallID = openai.String(call.CallID)
			params.Input.OfInputItemList = append(params.Input.OfInputItemList,
				responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name), out)
			params.ToolChoice = responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsAuto)}
			second := create(params, func() {
				s := e.script()
				wantToolTurn(t, s.Request())
				s.Token("Cold: -3 and snowing.")
				s.Finish(llm.FinishStop, nil)
			})
			if second.Status != "completed" || second.OutputText() != "Cold: -3 and snowing." {
				t.Fatalf("answer: %s", second.RawJSON())
			}
		})
	}
}

// A resume that lands inside a tool call's arguments continues them byte
// for byte: every starting_after gives the rest of the full stream.
func TestResumeInsideToolCallArguments(t *testing.T) {
	e := newEnv(t)
	resp, data := e.do("POST", "/v1/responses", `{"input":"Weather in Oslo?","background":true,"tools":[{"type":"function","name":"weather","parameters":{"type":"object"}}],"tool_choice":"required"}`, keyA)
	if resp.StatusCode != 200 {
		t.Fatalf("create: %d %s", resp.StatusCode, data)
	}
	askForWeather(t, e.script())
	id := "resp_" + fixedID(1)
	waitEnd(t, e, e.sdk(keyA), id)
	_, full := e.do("GET", "/v1/responses/"+id+"?stream=true", "", keyA)
	evs := parseEvents(t, full)
	inside := -1
	for i, ev := range evs {
		if ev.typ == "response.function_call_arguments.delta" && inside < 0 {
			inside = i
		}
	}
	if inside < 0 {
		t.Fatalf("no arguments delta in %s", full)
	}
	for after := inside - 1; after <= inside+2; after++ {
		_, got := e.do("GET", fmt.Sprintf("/v1/responses/%s?stream=true&starting_after=%d", id, after), "", keyA)
		var want strings.Builder
		for _, ev := range evs[after+1:] {
			want.WriteString(ev.raw)
		}
		if string(got) != want.String() {
			t.Fatalf("starting_after=%d:\n%s\nwant\n%s", after, got, want.String())
		}
	}
}
