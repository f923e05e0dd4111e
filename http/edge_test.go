package http

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/armistice-go/armistice/internal/parked"
)

// maxParkedFrames bounds the functions between net/http's connection and
// an event stream's Pump. A stream's handler parks there for as long as
// the stream lasts, and its goroutine keeps a stack sized by how deep it
// parks: the garbage collector halves a stack only while less than a
// quarter of it (plus 800 bytes of guard) is in use. Under echo's five
// middlewares and three of ours a stream parked 4.2 KB deep, 15 frames, and
// kept a 16 KB stack; under edge it parks 2.8 KB deep, 8 frames, and keeps
// 8 KB (docs/benchmarks.md, "Idle memory"). Frames are what a test can
// see of that depth: a middleware added around every route shows here.
const maxParkedFrames = 8

// waitParked waits for a goroutine to park in marker and returns the
// functions between net/http's connection and it.
func waitParked(t *testing.T, marker string) []string {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if frames, ok := parked.Below(marker, "net/http.(*conn).serve"); ok {
			return frames
		}
		runtime.Gosched()
	}
	t.Fatalf("no goroutine parked in %s", marker)
	return nil
}

func TestAnEventStreamParksUnderFewFrames(t *testing.T) {
	e := newEnv(t)
	snap := e.submit(`{"prompt":"p"}`)
	st := e.mustOpen(snap.ID, "")
	frames := waitParked(t, "github.com/armistice-go/armistice/http.Pump")
	if len(frames) > maxParkedFrames {
		t.Errorf("an event stream parks under %d functions, want at most %d:\n  %s", len(frames), maxParkedFrames, strings.Join(frames, "\n  "))
	}
	st.close()
}
