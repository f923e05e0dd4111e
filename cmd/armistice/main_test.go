package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// proto.actor's dead-letter throttle waits out its period on a goroutine
// of its own after a dead letter; it is the library's, not a leak.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

func TestDemoStreamsAnAnswer(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"demo", "--rate", "0", "--tokens", "9", "Tell me a story"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if words := strings.Fields(out.String()); len(words) != 9 {
		t.Fatalf("stdout = %q, want 9 words", out.String())
	}
	if !strings.Contains(errOut.String(), "completed/stop, 9 tokens") {
		t.Fatalf("stderr = %q", errOut.String())
	}
}

func TestDemoMaxTokensEndsWithLength(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"demo", "--rate", "0", "--max-tokens", "3", "p"}, &out, &errOut)
	if code != 0 || !strings.Contains(errOut.String(), "completed/length, 3 tokens") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"bogus"}, {"serve", "extra"}, {"demo"}, {"demo", "  "}, {"demo", "--rate", "-1", "p"}, {"demo", "--nope"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (stderr %q)", args, code, errOut.String())
		}
	}
}

// --help prints the command's usage to stdout and exits 0, for the binary
// and every subcommand.
func TestHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"serve", "--help"}, {"serve", "-h"}, {"chat", "--help"}, {"chat", "-h"}, {"demo", "--help"}, {"demo", "-h"}, {"version", "--help"}} {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		if code != 0 || !strings.Contains(out.String(), "usage: armistice") || errOut.Len() != 0 {
			t.Errorf("run(%q): exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", args, code, out.String(), errOut.String())
		}
	}
}

func TestUnknownCommandSaysSo(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"srve"}, &out, &errOut)
	if code != 2 || !strings.HasPrefix(errOut.String(), `armistice: unknown command "srve"`) || !strings.Contains(errOut.String(), "usage: armistice") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"version"}, &out, &errOut)
	// Test binaries carry no module version; the line still names the
	// module and the Go version.
	if code != 0 || !strings.HasPrefix(out.String(), "armistice github.com/armistice-go/armistice ") || !strings.Contains(out.String(), "go1.") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}
