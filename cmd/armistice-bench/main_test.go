package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// proto.actor's dead-letter throttle waits out its period on a goroutine
// of its own after a dead letter; it is the library's, not a leak.
func TestMain(m *testing.M) {
	// The cluster scenario starts the test binary again as its nodes.
	if ok, code := nodeMode(); ok {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// Bad flags are refused with exit code 2 before anything runs.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--workers", "-2"},
		{"--compare-window", "-1s"},
		{"--provider", "sdk"},
		{"--upstream-http", "h3"},
		{"--only", "nope"},
		{"extra"},
	} {
		var stderr strings.Builder
		if code := run(args, io.Discard, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, stderr.String())
		}
	}
}

// --compare-window changes the window at the comparison's stream count
// only, in the ladder and in the main run alike.
func TestCompareWindowIsTheComparisonsOnly(t *testing.T) {
	p := quickPlan()
	if got := p.windowAt(compareStreams, p.ConcSteady); got != p.ConcSteady {
		t.Fatalf("without the flag: window %v, want the plan's %v", got, p.ConcSteady)
	}
	p.CompareWindow = 30 * time.Second
	if got := p.windowAt(compareStreams, p.ConcSteady); got != 30*time.Second {
		t.Errorf("at %d streams: window %v, want 30s", compareStreams, got)
	}
	if got := p.windowAt(300, p.ConcLadderWindow); got != p.ConcLadderWindow {
		t.Errorf("at 300 streams: window %v, want the ladder's %v", got, p.ConcLadderWindow)
	}
}
