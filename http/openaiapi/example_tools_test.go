package openaiapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/armistice-go/armistice/actors"
	armhttp "github.com/armistice-go/armistice/http"
	"github.com/armistice-go/armistice/http/openaiapi"
	"github.com/armistice-go/armistice/llm/embedded"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// A tool-calling loop with the official Go client against the embedded
// model, with no API key: the model asks for the tool, the program runs
// it and sends the result back, the model answers with it. The same code
// works against any provider that honours tools (docs/openai.md).
func Example_toolCalling() {
	provider, _ := embedded.New(embedded.Config{TokensPerSecond: 0, Tokens: 8})
	eng, _ := actors.New(actors.DefaultConfig(provider))
	defer eng.Close()
	srv, _ := armhttp.New(eng, armhttp.DefaultConfig())
	_ = openaiapi.Register(srv, openaiapi.DefaultConfig())
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, time.Second)
	}()

	client := openai.NewClient(option.WithBaseURL("http://"+ln.Addr().String()+"/v1/"), option.WithAPIKey("unused"))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "embedded",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Oslo?")},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        "weather",
			Description: openai.String("The current weather in a city"),
			Parameters: shared.FunctionParameters{
				"type":       "object",
				"properties": map[string]any{"city": map[string]any{"type": "string"}},
				"required":   []string{"city"},
			},
		})},
	}
	for turn := 1; ; turn++ {
		completion, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			panic(err)
		}
		choice := completion.Choices[0]
		if choice.FinishReason != "tool_calls" {
			fmt.Printf("turn %d: %s: %s…\n", turn, choice.FinishReason, strings.Join(strings.Fields(choice.Message.Content)[:4], " "))
			return
		}
		params.Messages = append(params.Messages, choice.Message.ToParam())
		for _, call := range choice.Message.ToolCalls {
			var args struct{ City string }
			if err := json.Unmarshal([]byte(call.Function.Arguments), &args); err != nil {
				panic(err)
			}
			fmt.Printf("turn %d: the model calls %s with a city: %v\n", turn, call.Function.Name, args.City != "")
			params.Messages = append(params.Messages, openai.ToolMessage("-3 °C and snowing", call.ID))
		}
	}
	// Output:
	// turn 1: the model calls weather with a city: true
	// turn 2: stop: The weather tool returned:…
}
