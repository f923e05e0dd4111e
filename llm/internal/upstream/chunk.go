package upstream

import "github.com/armistice-go/armistice/llm"

// Carries reports whether c holds anything for the reader: text,
// reasoning, a tool-call piece, logprobs, a finish reason or usage.
// Streams skip the events that decode to none of them.
func Carries(c llm.Chunk) bool {
	return c.Text != "" || c.Reasoning != "" || len(c.ToolCalls) > 0 || len(c.Logprobs) > 0 ||
		c.FinishReason != llm.FinishNone || c.Usage != nil
}
