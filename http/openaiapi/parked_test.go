package openaiapi

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/http/internal/parked"
	"github.com/armistice-go/armistice/llm"
)

// maxParkedFrames bounds the functions between net/http's connection and
// a streaming answer's Pump: the handler parks there for as long as the
// answer streams, and its goroutine keeps a stack sized by how deep it
// parks (see the http package's TestAnEventStreamParksUnderFewFrames and
// docs/benchmarks.md, "Idle memory").
const maxParkedFrames = 9

func TestStreamingAnswersParkUnderFewFrames(t *testing.T) {
	for _, tc := range []struct{ name, path, body string }{
		{"chat", "/v1/chat/completions", chatBodyPlain},
		{"responses", "/v1/responses", `{"model":"scripted","stream":true,"input":"Hi"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.start("POST", tc.path, tc.body, keyA)
			s := e.script()
			s.Token("Hello") // a stream sends nothing before its first output
			var frames []string
			deadline := time.Now().Add(waitLimit)
			for ok := false; !ok; runtime.Gosched() {
				if time.Now().After(deadline) {
					t.Fatal("no handler parked in Pump")
				}
				frames, ok = parked.Below("github.com/armistice-go/armistice/http.Pump", "net/http.(*conn).serve")
			}
			if len(frames) > maxParkedFrames {
				t.Errorf("%s parks under %d functions, want at most %d:\n  %s", tc.path, len(frames), maxParkedFrames, strings.Join(frames, "\n  "))
			}
			s.Finish(llm.FinishStop, nil)
			if r := wait(t, res); r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		})
	}
}
