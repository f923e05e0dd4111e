package main

import (
	"io"
	"os"
	"strings"
	"testing"

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
