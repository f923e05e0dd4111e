package openai_test

import (
	"testing"

	"github.com/armistice-go/armistice/llm/internal/providertest"
	"github.com/armistice-go/armistice/llm/llmtest"
	"github.com/armistice-go/armistice/llm/openai"
)

// FuzzChunks feeds arbitrary bodies to the chunk mapping through the SDK's
// decoder and checks the stream contract holds.
func FuzzChunks(f *testing.F) {
	providertest.Seeds(f, llmtest.OpenAI)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := openai.New(openai.Config{BaseURL: "http://upstream.invalid/v1", HTTPClient: providertest.BodyClient(body)})
		if err != nil {
			t.Fatal(err)
		}
		providertest.Check(t, p)
	})
}
