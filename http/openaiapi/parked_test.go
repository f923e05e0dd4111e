package openaiapi

import (
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/internal/parked"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/llm/scripted"
)

// A streaming answer's handler parks in Pump for as long as the answer
// streams, and its goroutine keeps a stack sized by how deep it parks (see
// the http package's TestAnEventStreamParksUnderFewFrames and
// docs/benchmarks.md, "Idle memory"). The handlers that parse and submit
// have frames of 2–3 KB (chatCompletions 2,272 bytes, createResponse
// 3,288): they must have returned before the stream parks, or a chat
// stream parks 4.9 KB deep and keeps 16 KB of stack instead of 8.
var parsingHandlers = []string{
	"github.com/armistice-go/armistice/http/openaiapi.(*api).chatCompletions",
	"github.com/armistice-go/armistice/http/openaiapi.(*api).createResponse",
	"github.com/armistice-go/armistice/http/openaiapi.(*api).getResponse",
}

// maxParkedFrames bounds the functions between net/http's connection and
// Pump, so that a middleware added around the streams shows here.
const maxParkedFrames = 10

func TestStreamingAnswersParkUnderFewFrames(t *testing.T) {
	for _, tc := range []struct{ name, path, body string }{
		{"chat", "/v1/chat/completions", chatBodyPlain},
		{"responses", "/v1/responses", `{"model":"scripted","stream":true,"input":"Hi"}`},
		{"resumed background response", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var res <-chan rawResult
			var s *scripted.Script
			if tc.path != "" {
				res = e.start("POST", tc.path, tc.body, keyA)
				s = e.script()
			} else {
				resp, data := e.do("POST", "/v1/responses", `{"model":"scripted","background":true,"input":"Hi"}`, keyA)
				var created struct{ ID string }
				if err := json.Unmarshal(data, &created); err != nil || resp.StatusCode != 200 {
					t.Fatalf("background response: %d %s", resp.StatusCode, data)
				}
				s = e.script()
				tc.path = "/v1/responses/" + created.ID + "?stream=true"
				res = e.start("GET", tc.path, "", keyA)
			}
			s.Token("Hello") // a foreground stream sends nothing before its first output
			frames := waitParked(t)
			for _, f := range frames {
				if slices.Contains(parsingHandlers, f) {
					t.Errorf("%s parks under %s, whose frame is 2–3 KB:\n  %s", tc.path, f, strings.Join(frames, "\n  "))
				}
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

// waitParked waits for a handler to park in Pump and returns the
// functions between net/http's connection and it.
func waitParked(t *testing.T) []string {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if frames, ok := parked.Below("github.com/armistice-go/armistice/http.Pump", "net/http.(*conn).serve"); ok {
			return frames
		}
		runtime.Gosched()
	}
	t.Fatal("no handler parked in Pump")
	return nil
}
