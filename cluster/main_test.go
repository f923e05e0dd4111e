//go:build !race || clusterrace

package cluster

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain stops the shared cluster and then looks for leaked
// goroutines. proto.actor's cluster and gRPC leave goroutines behind after
// a node left and its actor system stopped (endpoint writers redialling a
// dead peer every 2 s, gRPC's callback serializers and connection
// resets, throttles that sleep their period out, the test provider's TTL
// loop, whose ticker.Stop never ends its range); those are the library's
// and are let go. Any goroutine with a frame of this module is a leak.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, mb := range shared.ms {
		mb.stop()
	}
	if code == 0 {
		if leaks := ourLeaks(goleak.Find()); leaks != "" {
			fmt.Fprintln(os.Stderr, "goleak: goroutines of armistice left running:\n"+leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// ourLeaks returns the stacks in goleak's report that hold a frame of this
// module.
func ourLeaks(err error) string {
	if err == nil {
		return ""
	}
	var out []string
	for _, g := range strings.Split(err.Error(), "\n\n") {
		if strings.Contains(g, "github.com/armistice-go/armistice/") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
