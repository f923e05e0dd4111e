package embedded_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/embedded"
)

func Example() {
	cfg := embedded.DefaultConfig()
	cfg.TokensPerSecond = 0 // unpaced, so the example does not wait
	p, err := embedded.New(cfg)
	if err != nil {
		panic(err)
	}
	req := llm.Prompt("Tell me a story.")
	req.MaxTokens = 12
	s, err := p.Stream(context.Background(), req)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	var text strings.Builder
	for {
		c, err := s.Recv()
		if err != nil {
			break // io.EOF after the finish chunk
		}
		text.WriteString(c.Text)
		if c.FinishReason != llm.FinishNone {
			fmt.Println(text.String())
			fmt.Println(c.FinishReason, c.Usage.CompletionTokens)
		}
	}
	// Output:
	// And so it was labelled 'ORANGE MARMALADE', but to her great delight
	// length 12
}

// A tool call: the first delta names the call, the rest stream its
// arguments.
func ExampleProvider_Stream_toolCall() {
	p, err := embedded.New(embedded.Config{Tokens: 64}) // unpaced
	if err != nil {
		panic(err)
	}
	req := llm.Prompt("What is the weather in Paris?")
	req.Settings.Tools = []llm.Tool{{
		Name:       "get_weather",
		Parameters: []byte(`{"type":"object","properties":{"city":{"type":"string","maxLength":12},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"]}`),
	}}
	req.Settings.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceRequired}
	s, err := p.Stream(context.Background(), req)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	var pieces []string
	for {
		c, err := s.Recv()
		if err != nil {
			break
		}
		for _, d := range c.ToolCalls {
			if d.ID != "" {
				fmt.Printf("call %d: %s %s\n", d.Index, d.ID, d.Name)
				continue
			}
			pieces = append(pieces, fmt.Sprintf("%q", d.Arguments))
		}
		if c.FinishReason != llm.FinishNone {
			fmt.Println(strings.Join(pieces, " "))
			fmt.Println(c.FinishReason)
		}
	}
	// Output:
	// call 0: call_d0a96c9592d52dfe get_weather
	// "{" "\"city\":" "\"Oh! " "won't\"" ",\"unit\":" "\"celsius\"" "}"
	// tool_calls
}

// Structured output: a document valid for the schema, streamed in pieces.
func ExampleProvider_Stream_jsonSchema() {
	p, err := embedded.New(embedded.Config{Tokens: 64}) // unpaced
	if err != nil {
		panic(err)
	}
	req := llm.Prompt("Describe a character.")
	req.Settings.ResponseFormat = &llm.ResponseFormat{
		Type:   llm.FormatJSONSchema,
		Name:   "character",
		Schema: []byte(`{"type":"object","properties":{"name":{"type":"string","maxLength":20},"age":{"type":"integer","minimum":7,"maximum":12},"friends":{"type":"array","items":{"type":"string","maxLength":10},"minItems":1,"maxItems":2}},"required":["name","age","friends"],"additionalProperties":false}`),
	}
	s, err := p.Stream(context.Background(), req)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	var doc strings.Builder
	for {
		c, err := s.Recv()
		if err != nil {
			break
		}
		doc.WriteString(c.Text)
		if c.FinishReason != llm.FinishNone {
			fmt.Println(doc.String())
			fmt.Println(c.FinishReason)
		}
	}
	// Output:
	// {"name":"And so it was a","age":9,"friends":["escape!"]}
	// stop
}
