package resilient_test

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/openai"
	"github.com/armistice-go/armistice/llm/resilient"
)

// A primary OpenAI-compatible upstream that is down, and an Anthropic
// fallback (both fakes here).
func Example() {
	down, _ := llmtest.StartOpenAI(llmtest.Status(503, ""))
	defer down.Close()
	up, _ := llmtest.StartAnthropic(llmtest.Answer("Hello", " from", " the", " fallback"))
	defer up.Close()

	primary, _ := openai.New(openai.Config{BaseURL: down.URL, Model: "gpt-test"})
	fallback, _ := anthropic.New(anthropic.Config{BaseURL: up.URL, Model: "claude-test"})
	p, err := resilient.New(resilient.Config{
		Upstreams: []resilient.Upstream{{Name: "vllm", Provider: primary}, {Name: "claude", Provider: fallback}},
		Retries:   -1, // one attempt each, so the example does not wait
	})
	if err != nil {
		panic(err)
	}
	s, err := p.Stream(context.Background(), llm.Prompt("Say hello"))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	var text strings.Builder
	for {
		c, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(resilient.Classify(err), err)
			return
		}
		text.WriteString(c.Text)
	}
	fmt.Println(text.String())
	// Output:
	// Hello from the fallback
}
