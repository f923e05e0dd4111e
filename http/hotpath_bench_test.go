package http

import (
	"testing"

	"github.com/armistice-go/armistice/model"
)

// BenchmarkAppendTokenEvent is the per-token cost of the native SSE
// writer: one token record rendered as an event.
func BenchmarkAppendTokenEvent(b *testing.B) {
	r := model.Record{Seq: 12345, Kind: model.KindToken, Text: " token"}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEvent(buf[:0], r)
	}
}
