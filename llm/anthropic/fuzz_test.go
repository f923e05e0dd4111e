package anthropic_test

import (
	"testing"

	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/anthropic"
	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
)

// FuzzEvents feeds arbitrary bodies to the event mapping through the SDK's
// decoder and checks the stream contract holds.
func FuzzEvents(f *testing.F) {
	providertest.Seeds(f, llmtest.Anthropic)
	usage := llm.Usage{PromptTokens: 1, CompletionTokens: 2}
	f.Add([]byte(llmtest.AnthropicAnswer("tool_use", usage, llmtest.AnthropicThinking("hm"), llmtest.AnthropicText("a"),
		llmtest.AnthropicToolUse("toolu_1", "f", `{"a":`, `1}`), llmtest.AnthropicToolUse("toolu_2", "g")).Raw))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := anthropic.New(anthropic.Config{BaseURL: "http://upstream.invalid", HTTPClient: providertest.BodyClient(body)})
		if err != nil {
			t.Fatal(err)
		}
		providertest.Check(t, p)
	})
}
