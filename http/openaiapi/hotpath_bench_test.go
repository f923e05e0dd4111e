package openaiapi

import (
	"testing"

	"github.com/armistice-go/armistice/model"
)

var benchToken = []model.Record{{Seq: 9, Kind: model.KindToken, Text: " token"}}

// BenchmarkChatTokenChunk is the per-token cost of the chat SSE writer.
func BenchmarkChatTokenChunk(b *testing.B) {
	c := newChatConv("00000000-0000-4000-8000-000000000001", 1700000000, "gpt-4o-mini", true)
	c.apply([]model.Record{{Seq: 1, Kind: model.KindState, State: model.StatePending}, {Seq: 2, Kind: model.KindState, State: model.StateStreaming}})
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.append(buf[:0], benchToken)
		c.text.Reset()
	}
}

// BenchmarkResponsesTokenDelta is the per-token cost of the Responses
// SSE writer.
func BenchmarkResponsesTokenDelta(b *testing.B) {
	c := newRespConv(testMeta, -1)
	c.apply([]model.Record{{Seq: 1, Kind: model.KindState, State: model.StatePending}, {Seq: 2, Kind: model.KindState, State: model.StateStreaming},
		{Seq: 3, Kind: model.KindToken, Text: "a"}})
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.append(buf[:0], benchToken)
		c.resetText()
	}
}
func (c *respConv) resetText() { c.items[c.open].text.Reset(); c.items[c.open].logprobs = nil }
