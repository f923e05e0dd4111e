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
